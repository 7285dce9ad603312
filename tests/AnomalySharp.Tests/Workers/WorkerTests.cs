using System.Diagnostics;
using System.Text.Json.Nodes;
using AnomalySharp.Tests.Cli;
using AnomalySharp.Tests.Export;
using AnomalySharp.Workers;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace AnomalySharp.Tests.Workers;

/// <summary>
/// Scale-out on NATS JetStream against real nats-server processes on free ports: `publish` sends real magnetic_tile
/// images as frames, `worker` processes (the real CLI) score them with an exported model, and the results stream is
/// read back. Workers are killed with SIGKILL and stopped with SIGTERM; a server of a three-node cluster is killed.
/// </summary>
[Collection(IsolatedCollection.Name)]
[Trait(IsolatedCollection.Trait, IsolatedCollection.Value)]
public class WorkerTests
{
    static readonly TimeSpan Ready = TimeSpan.FromSeconds(90);

    static string[] Worker(string url, params string[] more) =>
        new[] { "worker", "--nats", url, "--model", ExportedSynthetic.Onnx, "--ack-wait", "2", "--threads", "1" }.Concat(more).ToArray();

    static void Publish(string url, string subject, string prefix, int count, params string[] inputs)
    {
        var args = new List<string> { "publish", "--nats", url, "--subject", subject, "--id-prefix", prefix };
        if (count > 0) args.AddRange(new[] { "--count", count.ToString() });
        args.AddRange(inputs);
        var r = CliRunner.Run(args.ToArray());
        Assert.True(r.ExitCode == 0, $"publish exited {r.ExitCode}: {r.Stderr}");
    }

    static async Task<long> Messages(string url, string stream)
    {
        await using var connection = new NatsConnection(NatsOpts.Default with { Url = url });
        var js = new NatsJSContext(connection);
        return (long)(await js.GetStreamAsync(stream)).Info.State.Messages;
    }

    /// <summary>A stream's message count, or -1 while its leader is being elected (a cluster that lost a server).</summary>
    static async Task<long> TryMessages(string url, string stream)
    {
        try { return await Messages(url, stream); }
        catch (Exception e) when (JetStreamLayout.IsTransient(e) || e is NatsException) { return -1; }
    }

    static async Task<(long Pending, long AckPending)> Consumer(string url)
    {
        await using var connection = new NatsConnection(NatsOpts.Default with { Url = url });
        var js = new NatsJSContext(connection);
        var info = (await js.GetConsumerAsync("FRAMES", "anomalysharp-workers")).Info;
        return ((long)info.NumPending, info.NumAckPending);
    }

    static async Task WaitUntil(Func<Task<bool>> condition, TimeSpan timeout, Func<string> why)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout) Assert.Fail($"not reached within {timeout.TotalSeconds} s: {why()}");
            await Task.Delay(200);
        }
    }

    static async Task<List<JsonObject>> Read(string url, string subject)
    {
        var text = new StringWriter();
        await ResultReader.ReadAsync(url, subject, follow: false, text);
        return text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
    }

    [Fact]
    public async Task TwoWorkersOneKilledMidStreamLoseNoFrameAndStoreEachResultOnce()
    {
        string frames = Path.Combine(TestPaths.SharedData("magnetic_tile"), "test");
        using var server = NatsServer.Start();
        // The publisher is faster than the workers: all 1,000 frames wait in the stream before a worker starts.
        Publish(server.Url, "frames.line1.cam1", "f-", 1000, frames);
        using var a = new CliProcess(Worker(server.Url, "--sessions", "1"));
        using var b = new CliProcess(Worker(server.Url, "--sessions", "1"));
        a.WaitFor("worker: ready", Ready);
        b.WaitFor("worker: ready", Ready);
        await WaitUntil(async () => await Messages(server.Url, "RESULTS") >= 200, TimeSpan.FromMinutes(2), () => a.Stderr + b.Stderr);
        // Back-pressure: with hundreds of frames waiting, the workers hold one frame each (one session, one pull at a time).
        for (int i = 0; i < 5; i++)
        {
            var (pending, ackPending) = await Consumer(server.Url);
            Assert.True(pending > 300 && ackPending <= 2, $"{pending} frames waiting, {ackPending} in the workers' hands");
            await Task.Delay(100);
        }
        a.Signal("KILL");
        a.WaitForExit(TimeSpan.FromSeconds(10));
        await WaitUntil(async () => await Messages(server.Url, "FRAMES") == 0, TimeSpan.FromMinutes(3), () => b.Stderr);
        b.Signal("TERM");
        Assert.Equal(0, b.WaitForExit(TimeSpan.FromSeconds(30)));

        var results = await Read(server.Url, "results.>");
        var ids = results.Select(r => (string)r["frame_id"]!).ToList();
        Assert.Equal(1000, ids.Count);
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => $"f-{i:D6}"), ids.Order(StringComparer.Ordinal));
        Assert.Equal(2, results.Select(r => (string)r["worker"]!).Distinct().Count());
        Assert.All(results, r => Assert.InRange((double)r["score"]!, 0.0, 1.0));
        Assert.Empty(await Read(server.Url, "deadletter.>"));
        Assert.Contains("worker: stopped:", b.Stderr);
    }

    [Fact]
    public async Task AFrameWhoseResultIsAlreadyStoredIsAcknowledgedWithoutASecondResult()
    {
        string frames = Path.Combine(TestPaths.SharedData("magnetic_tile"), "test", "good");
        using var server = NatsServer.Start();
        Publish(server.Url, "frames.line1.cam1", "d-", 3, frames);
        // A worker that stored this frame's result and died before acknowledging it: the frame is delivered again.
        await using (var connection = new NatsConnection(NatsOpts.Default with { Url = server.Url }))
        {
            var js = new NatsJSContext(connection);
            byte[] stored = System.Text.Encoding.UTF8.GetBytes("""{"frame_id":"d-000001","worker":"crashed"}""");
            var ack = await js.PublishAsync("results.line1.cam1", stored,
                opts: new NatsJSPubOpts { MsgId = "d-000001" });
            ack.EnsureSuccess();
        }
        using var worker = new CliProcess(Worker(server.Url));
        worker.WaitFor("worker: ready", Ready);
        await WaitUntil(async () => await Messages(server.Url, "FRAMES") == 0, TimeSpan.FromMinutes(1), () => worker.Stderr);
        worker.Signal("TERM");
        Assert.Equal(0, worker.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Contains("3 scored, 0 dead-lettered, 1 duplicate results dropped", worker.Stderr);
        var results = await Read(server.Url, "results.>");
        Assert.Equal(new[] { "d-000000", "d-000001", "d-000002" },
            results.Select(r => (string)r["frame_id"]!).Order(StringComparer.Ordinal));
        Assert.Equal("crashed", (string)results.Single(r => (string)r["frame_id"]! == "d-000001")["worker"]!);
    }

    [Fact]
    public async Task FramesThatAreNotImagesGoToTheDeadLetterSubjectAndTheWorkerGoesOn()
    {
        string dir = TestPaths.TempDir("frames");
        string good = Directory.EnumerateFiles(Path.Combine(TestPaths.SharedData("magnetic_tile"), "test",
            "good")).Order(StringComparer.Ordinal).First();
        byte[] jpeg = File.ReadAllBytes(good);
        File.WriteAllBytes(Path.Combine(dir, "a_truncated.jpg"), jpeg[..(jpeg.Length / 2)]);
        File.WriteAllText(Path.Combine(dir, "b_notes.png"), "not an image");
        File.Copy(good, Path.Combine(dir, "c_good.jpg"));
        // Line 3 has a model of its own (a copy of the file under another name, so the result says which one scored it).
        string line3Model = Path.Combine(dir, "line3.onnx");
        File.Copy(ExportedSynthetic.Onnx, line3Model);
        using var server = NatsServer.Start();
        Publish(server.Url, "frames.line3.cam7", "x-", 0, dir);
        // A follower started before any result: it prints each one as it is stored, until cancelled.
        using var stop = new CancellationTokenSource();
        var followed = new Lines();
        var follower = ResultReader.ReadAsync(server.Url, "deadletter.>", follow: true, followed, cancellation: stop.Token);
        using var worker = new CliProcess(Worker(server.Url, "--masks", "--model-for", $"frames.line3.>={line3Model}"));
        worker.WaitFor("worker: ready", Ready);
        await WaitUntil(async () => await Messages(server.Url, "FRAMES") == 0, TimeSpan.FromMinutes(1), () => worker.Stderr);
        await WaitUntil(() => Task.FromResult(followed.All.Count == 2), TimeSpan.FromSeconds(20), () => string.Join("\n", followed.All));
        stop.Cancel();
        Assert.Equal(2, await follower);
        var dead = await Read(server.Url, "deadletter.>");
        Assert.Equal(new[] { "a_truncated.jpg", "b_notes.png" }, dead.Select(d => (string)d["file"]!).Order(StringComparer.Ordinal));
        Assert.All(dead, d => Assert.Equal("deadletter.line3.cam7", (string)d["result_subject"]!));
        Assert.Contains("truncated", (string)dead.Single(d => (string)d["file"]! == "a_truncated.jpg")["reason"]!);
        Assert.Contains("not a readable image", (string)dead.Single(d => (string)d["file"]! == "b_notes.png")["reason"]!);
        var result = Assert.Single(await Read(server.Url, "results.line3.>"));
        Assert.Equal("c_good.jpg", (string)result["file"]!);
        Assert.Equal("padim", (string)result["model"]!);
        Assert.Equal("line3.onnx", (string)result["model_file"]!);
        Assert.Equal(12, ((string)result["model_version"]!).Length);
        byte[] mask = Convert.FromBase64String((string)result["mask_png"]!);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, mask[..4]);
        worker.Signal("TERM");
        Assert.Equal(0, worker.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Contains("1 scored, 2 dead-lettered", worker.Stderr);
    }

    [Fact]
    public async Task SigtermFinishesTheFramesInHandAcknowledgesThemAndExitsZero()
    {
        string frames = Path.Combine(TestPaths.SharedData("magnetic_tile"), "test");
        using var server = NatsServer.Start();
        Publish(server.Url, "frames.line1.cam1", "t-", 300, frames);
        using var worker = new CliProcess(Worker(server.Url, "--sessions", "2"));
        worker.WaitFor("worker: ready", Ready);
        await WaitUntil(async () => await Messages(server.Url, "RESULTS") >= 20, TimeSpan.FromMinutes(1), () => worker.Stderr);
        worker.Signal("TERM");
        Assert.Equal(0, worker.WaitForExit(TimeSpan.FromSeconds(30)));
        long results = await Messages(server.Url, "RESULTS"), left = await Messages(server.Url, "FRAMES");
        var (pending, ackPending) = await Consumer(server.Url);
        Assert.True(results < 300, "the worker should have been stopped mid-stream");
        // Every frame the worker took has its result and is acknowledged; none waits for redelivery.
        Assert.Equal(0, ackPending);
        Assert.Equal(300, results + left);
        Assert.Equal(left, pending);
        Assert.Contains($"worker: stopped: {results} scored", worker.Stderr);
    }

    [Fact]
    public async Task AThreeServerClusterLosesOneServerMidRunAndNoFrameIsLost()
    {
        string frames = Path.Combine(TestPaths.SharedData("magnetic_tile"), "test");
        // The third server starts after the publisher: a replicated stream cannot be placed until the cluster's
        // metadata leader knows three servers, which also happens for a while after a whole cluster starts at once
        // (CI saw "no suitable peers for placement" there). The publisher waits for the peers rather than failing.
        var servers = NatsServer.StartCluster(launched: 2);
        try
        {
            string all = string.Join(",", servers.Select(s => s.Url));
            var publishing = Task.Run(() => CliRunner.Run("publish", "--nats", all, "--subject", "frames.line1.cam1", "--id-prefix",
                "r-", "--count", "400", "--replicas", "3", frames));
            await Task.Delay(TimeSpan.FromSeconds(2));
            servers[2].Launch();
            var publish = await publishing;
            Assert.True(publish.ExitCode == 0, $"publish exited {publish.ExitCode}: {publish.Stderr}");
            using var a = new CliProcess(Worker(all, "--replicas", "3"));
            using var b = new CliProcess(Worker(all, "--replicas", "3"));
            a.WaitFor("worker: ready", Ready);
            b.WaitFor("worker: ready", Ready);
            string survivor = servers[1].Url;
            await WaitUntil(async () => await TryMessages(survivor, "RESULTS") >= 100, TimeSpan.FromMinutes(2), () => a.Stderr + b.Stderr);
            servers[0].Kill();
            string live = string.Join(",", servers.Skip(1).Select(s => s.Url));
            await WaitUntil(async () => await TryMessages(live, "FRAMES") == 0, TimeSpan.FromMinutes(3), () => a.Stderr + b.Stderr);
            a.Signal("TERM");
            b.Signal("TERM");
            Assert.Equal(0, a.WaitForExit(TimeSpan.FromSeconds(45)));
            Assert.Equal(0, b.WaitForExit(TimeSpan.FromSeconds(45)));
            List<string> ids;
            try { ids = (await Read(live, "results.>")).Select(r => (string)r["frame_id"]!).ToList(); }
            catch (Exception e) when (e is NatsException)
            {
                throw new Xunit.Sdk.XunitException($"reading the results failed: {e.Message}\n" + string.Join("\n",
                    servers.Select(x => x.Log[Math.Max(0, x.Log.Length - 3000)..])));
            }
            Assert.Equal(Enumerable.Range(0, 400).Select(i => $"r-{i:D6}"), ids.Order(StringComparer.Ordinal));
        }
        finally
        {
            foreach (var s in servers) s.Dispose();
        }
    }

    [Fact]
    public async Task AWorkerWithAnotherSubjectIsRefusedAndStrandsNoFrame()
    {
        // Issue 40 B: worker 2 with --subject 'frames.l4.>' rewrote the shared consumer's filter, and frames on frames.l1
        // were skipped for every worker. Now it is refused (exit 2, one line) and the consumer is as worker 1 made it.
        string frames = Path.Combine(TestPaths.SharedData("magnetic_tile"), "test", "good");
        using var server = NatsServer.Start();
        using var first = new CliProcess(Worker(server.Url));
        first.WaitFor("worker: ready", Ready);
        using (var second = new CliProcess(Worker(server.Url, "--subject", "frames.l4.>")))
        {
            Assert.Equal(2, second.WaitForExit(TimeSpan.FromSeconds(60)));
            string error = Assert.Single(second.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("error: ",
                StringComparison.Ordinal));
            Assert.Contains("consumer anomalysharp-workers on stream FRAMES already exists with subject 'frames.>' (this worker: "
                + "--subject 'frames.l4.>')", error);
            Assert.DoesNotContain("   at ", second.Stderr);
        }
        using (var third = new CliProcess(Worker(server.Url, "--max-deliver", "9")))
        {
            Assert.Equal(2, third.WaitForExit(TimeSpan.FromSeconds(60)));
            Assert.Contains("max deliver 5 (this worker: --max-deliver 9)", third.Stderr);
        }
        await using (var connection = new NatsConnection(NatsOpts.Default with { Url = server.Url }))
        {
            var config = (await new NatsJSContext(connection).GetConsumerAsync("FRAMES", "anomalysharp-workers")).Info.Config;
            Assert.Equal("frames.>", config.FilterSubject);
            Assert.Equal(5, config.MaxDeliver);
        }
        // Worker 1 still scores every frame of another line; a worker started with its settings joins it.
        using var same = new CliProcess(Worker(server.Url));
        same.WaitFor("worker: ready", Ready);
        Publish(server.Url, "frames.l1.c9", "s-", 5, frames);
        await WaitUntil(async () => (await Read(server.Url, "results.>")).Count == 5, TimeSpan.FromMinutes(1),
            () => first.Stderr + same.Stderr);
        Assert.Equal(0, await Messages(server.Url, "FRAMES"));
        first.Signal("TERM");
        same.Signal("TERM");
        Assert.Equal(0, first.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, same.WaitForExit(TimeSpan.FromSeconds(30)));
    }

    /// <summary>Lines written by a reader on another task.</summary>
    sealed class Lines : TextWriter
    {
        public readonly System.Collections.Concurrent.ConcurrentQueue<string> All = new();
        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;
        public override void WriteLine(string? value) => All.Enqueue(value ?? "");
        public override Task WriteLineAsync(string? value)
        {
            All.Enqueue(value ?? "");
            return Task.CompletedTask;
        }
    }
}
