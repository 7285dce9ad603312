using AnomalySharp.IO;

namespace AnomalySharp.Tests.Reliability;

/// <summary>
/// The shutdown deadline's wait for protected work (<see cref="PendingOutputs.Protect"/>): it returns when the last
/// protected piece of work ends, and gives up at its limit when one does not; and what counts as idle, the state in
/// which a first signal ends a command at once.
/// </summary>
[Collection(IsolatedCollection.Name)] // the protection count is process-wide
[Trait(IsolatedCollection.Trait, IsolatedCollection.Value)]
public class ProtectedWorkTests
{
    [Fact]
    public void TheWaitEndsWhenTheProtectedWorkEnds()
    {
        Assert.Equal(ProtectedWait.None, PendingOutputs.WaitForProtected(TimeSpan.Zero));
        using var started = new ManualResetEventSlim();
        var work = new Thread(() =>
        {
            using (PendingOutputs.Protect())
            using (PendingOutputs.Protect()) // nested: both must end
            {
                started.Set();
                Thread.Sleep(400);
            }
        });
        work.Start();
        started.Wait();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(ProtectedWait.Ended, PendingOutputs.WaitForProtected(TimeSpan.FromSeconds(30)));
        Assert.True(clock.ElapsedMilliseconds >= 300, $"returned after {clock.ElapsedMilliseconds} ms with the work in hand");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), "waited past the work's end");
        work.Join();
    }

    [Fact]
    public void TheWaitGivesUpAtItsLimit()
    {
        var protection = PendingOutputs.Protect();
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            Assert.Equal(ProtectedWait.TimedOut, PendingOutputs.WaitForProtected(TimeSpan.FromMilliseconds(200)));
            Assert.True(clock.ElapsedMilliseconds >= 150, $"gave up after {clock.ElapsedMilliseconds} ms");
        }
        finally { protection.Dispose(); }
        protection.Dispose(); // a second dispose does not end someone else's protection
        Assert.Equal(ProtectedWait.None, PendingOutputs.WaitForProtected(TimeSpan.Zero));
    }

    [Fact]
    public void IdleMeansNothingPendingAndNothingProtected()
    {
        Assert.True(PendingOutputs.IsIdle);
        string dir = TestPaths.TempDir("idle");
        string final = Path.Combine(dir, "out");
        using (var staged = new StagedOutput(final, overwrite: false, "results.json"))
        {
            Assert.False(PendingOutputs.IsIdle);
            Assert.True(Directory.Exists(staged.Path));
        }
        Assert.True(PendingOutputs.IsIdle);
        using (PendingOutputs.Protect()) Assert.False(PendingOutputs.IsIdle);
        Assert.True(PendingOutputs.IsIdle);
        var file = PendingOutputs.RegisterFile(Path.Combine(dir, "x.tmp"));
        Assert.False(PendingOutputs.IsIdle);
        file.Dispose();
        Assert.True(PendingOutputs.IsIdle);
        Assert.Empty(Directory.GetFileSystemEntries(dir)); // a staging folder disposed uncommitted is gone
    }
}
