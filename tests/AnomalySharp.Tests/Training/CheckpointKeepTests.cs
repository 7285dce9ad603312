using AnomalySharp.Tests.Build;
using AnomalySharp.Training;

namespace AnomalySharp.Tests.Training;

/// <summary>
/// The best checkpoint is kept as a second name of the last one (no copy of hundreds of megabytes), and keeps its
/// bytes when the last checkpoint is saved again, which replaces it by a rename.
/// </summary>
public class CheckpointKeepTests
{
    [Fact]
    public void TheBestCheckpointIsALinkThatKeepsItsBytesWhenTheLastOneIsSavedAgain()
    {
        string dir = TestPaths.TempDir("keep");
        string last = Path.Combine(dir, Trainer.LastFile), best = Path.Combine(dir, Trainer.BestFile);
        void Save(string text) { File.WriteAllText(last + ".tmp", text); File.Move(last + ".tmp", last, overwrite: true); }
        Save("epoch 1");
        File.WriteAllText(best, "an older best");
        Checkpoint.Keep(last, best);
        Assert.Equal(PrivateOutputsTests.Stat(last).Inode, PrivateOutputsTests.Stat(best).Inode);
        Assert.Equal(2, PrivateOutputsTests.Stat(best).Links);
        Assert.False(File.Exists(best + ".tmp"));

        Save("epoch 2");
        Assert.Equal("epoch 1", File.ReadAllText(best));
        Assert.Equal(1, PrivateOutputsTests.Stat(best).Links);
        Checkpoint.Keep(last, best);
        Assert.Equal("epoch 2", File.ReadAllText(best));
    }
}
