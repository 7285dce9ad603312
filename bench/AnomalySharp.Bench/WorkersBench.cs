using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using AnomalySharp.Workers;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace AnomalySharp.Bench;

/// <summary>
/// Scale-out on NATS JetStream (issue #16), every figure from this run: frames/s of 1 worker (all threads in one
/// session), of 1 worker with a session per core, and of a worker per core, draining the same number of real frames from a fresh
/// nats-server; the
/// broker's CPU per frame and its peak memory; the workers' peak memory; then end-to-end latency (frame stored in the
/// stream → result stored) at a publish rate below the workers' capacity, p50 and p99.
/// </summary>
internal static class WorkersBench
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static async Task<int> Run(string model, string data, int threads, int frames)
    {
        string cli = ContentionBench.CliPath();
        string images = Path.Combine(data, "test");
        Console.WriteLine($"# AnomalySharp workers bench — {Environment.ProcessorCount} cores, {threads} threads in all, {frames} "
            + $"frames from {images}, model {model}");
        Console.WriteLine();
        Console.WriteLine("| workers | sessions × threads each | frames | drain seconds | frames/s | broker CPU per frame | broker "
            + "peak RSS | worker peak RSS (each) | first worker's RSS at 20/40/60/80% done |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
        double single = 0;
        // One worker with every thread in one session; one worker with a session per core; a worker per core.
        foreach (var (workers, sessions) in new[] { (1, 1), (1, threads), (threads, 1) })
        {
            using var server = new Server();
            Check(ChildRun.Run("dotnet", new[] { cli, "publish", "--nats", server.Url, "--subject", "frames.line1.cam1", "--count",
                frames.ToString(Inv), "--id-prefix", "b-", images }), "publish");
            int each = Math.Max(1, threads / (workers * sessions));
            var procs = Enumerable.Range(0, workers).Select(_ => Start(cli, "worker", "--nats", server.Url, "--model", model,
                "--sessions", sessions.ToString(Inv), "--threads", each.ToString(Inv))).ToList();
            foreach (var p in procs) WaitReady(p);
            double brokerCpu = ChildRun.ProcessCpuSeconds(server.Pid);
            var clock = Stopwatch.StartNew();
            var peaks = new double[workers];
            var resident = new List<string>();   // the first worker's RSS each time another 20% of the frames is done
            long left;
            while ((left = await Messages(server.Url, "FRAMES")) > 0)
            {
                for (int i = 0; i < workers; i++) peaks[i] = Math.Max(peaks[i], ChildRun.StatusMb(procs[i].Process.Id, "VmHWM:"));
                if (frames - left >= frames * (resident.Count + 1) / 5.0)
                    resident.Add(ChildRun.StatusMb(procs[0].Process.Id, "VmRSS:").ToString("0", Inv));
                await Task.Delay(100);
            }
            double seconds = clock.Elapsed.TotalSeconds;
            brokerCpu = ChildRun.ProcessCpuSeconds(server.Pid) - brokerCpu;
            double brokerPeak = ChildRun.StatusMb(server.Pid, "VmHWM:");
            foreach (var p in procs) p.Stop();
            if (workers == 1 && sessions == 1) single = frames / seconds;
            Console.WriteLine(string.Create(Inv,
                $"| {workers} | {sessions} × {each} | {frames} | {seconds:0.0} | {frames / seconds:0.0} | "
                    + $"{brokerCpu / frames * 1000:0.00} ms | {brokerPeak:0} MiB | "
                        + $"{string.Join(" / ", peaks.Select(p => p.ToString("0", Inv)))} MiB | {string.Join(" / ", resident)} MiB |"));
        }

        // Latency at 60% of one worker's capacity: frames arrive one by one, as from a camera.
        using (var server = new Server())
        {
            double rate = Math.Max(1, Math.Round(single * 0.6));
            int count = Math.Min(frames, (int)(rate * 30));
            var worker = Start(cli, "worker", "--nats", server.Url, "--model", model, "--threads", threads.ToString(Inv));
            WaitReady(worker);
            Check(ChildRun.Run("dotnet", new[] { cli, "publish", "--nats", server.Url, "--subject", "frames.line1.cam1", "--count",
                count.ToString(Inv), "--rate", rate.ToString(Inv), "--id-prefix", "l-", images }), "publish");
            while (await Messages(server.Url, "FRAMES") > 0) await Task.Delay(100);
            worker.Stop();
            var text = new StringWriter();
            await ResultReader.ReadAsync(server.Url, "results.>", follow: false, text);
            var latencies = text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!)
                .Select(r => (DateTimeOffset.Parse((string)r["stored_utc"]!, Inv) - DateTimeOffset.Parse((string)r["published_utc"]!,
                    Inv)).TotalMilliseconds)
                .Order().ToArray();
            double P(double q) => latencies[Math.Min(latencies.Length - 1, (int)Math.Floor(q * latencies.Length))];
            Console.WriteLine();
            Console.WriteLine(string.Create(Inv,
                $"End-to-end latency (frame stored in FRAMES → result stored in RESULTS), 1 worker × {threads} threads, "
                    + $"{latencies.Length} frames at {rate:0} frames/s (60% of its capacity): p50 {P(0.5):0.0} ms, p99 {P(0.99):0.0} "
                        + $"ms, max {latencies[^1]:0.0} ms"));
        }
        return 0;
    }

    static void Check(ChildRun.Cost run, string what)
    {
        if (run.ExitCode != 0) throw new InvalidOperationException($"{what} exited {run.ExitCode}: {run.Output}");
    }

    static async Task<long> Messages(string url, string stream)
    {
        await using var connection = new NatsConnection(NatsOpts.Default with { Url = url });
        return (long)(await new NatsJSContext(connection).GetStreamAsync(stream)).Info.State.Messages;
    }

    sealed record Child(Process Process, System.Text.StringBuilder Stderr)
    {
        public void Stop()
        {
            using (var kill = Process.Start("kill", new[] { "-TERM", Process.Id.ToString(Inv) })!) kill.WaitForExit();
            if (!Process.WaitForExit(60_000)) Process.Kill(true);
        }
    }

    static Child Start(string cli, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add(cli);
        foreach (string a in args) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var stderr = new System.Text.StringBuilder();
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (stderr) stderr.AppendLine(e.Data); };
        p.OutputDataReceived += (_, _) => { };
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        return new Child(p, stderr);
    }

    static void WaitReady(Child c)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            lock (c.Stderr) if (c.Stderr.ToString().Contains("worker: ready", StringComparison.Ordinal)) return;
            if (c.Process.HasExited || clock.Elapsed > TimeSpan.FromMinutes(2)) throw new InvalidOperationException("worker did not "
                + "start: " + c.Stderr);
            Thread.Sleep(50);
        }
    }

    /// <summary>A nats-server with JetStream on a free loopback port and a temporary store, killed and removed at the end.</summary>
    sealed class Server : IDisposable
    {
        readonly Process _process;
        readonly string _dir = Directory.CreateTempSubdirectory("anomalysharp-bench-nats").FullName;
        public string Url { get; }
        public int Pid => _process.Id;

        public Server()
        {
            int port;
            using (var listener = new TcpListener(IPAddress.Loopback,
                0)) { listener.Start(); port = ((IPEndPoint)listener.LocalEndpoint).Port; }
            Url = $"nats://127.0.0.1:{port}";
            string binary = File.Exists("/usr/sbin/nats-server") ? "/usr/sbin/nats-server" : "nats-server";
            var psi = new ProcessStartInfo(binary) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (string a in new[] { "-js", "-sd", _dir, "-a", "127.0.0.1", "-p", port.ToString(Inv) }) psi.ArgumentList.Add(a);
            _process = Process.Start(psi)!;
            var ready = new TaskCompletionSource();
            _process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data?.Contains("Server is ready",
                StringComparison.Ordinal) == true) ready.TrySetResult();
            };
            _process.OutputDataReceived += (_, _) => { };
            _process.BeginErrorReadLine();
            _process.BeginOutputReadLine();
            if (!ready.Task.Wait(TimeSpan.FromSeconds(20))) throw new InvalidOperationException("nats-server did not start");
        }

        public void Dispose()
        {
            _process.Kill();
            _process.WaitForExit();
            _process.Dispose();
            Directory.Delete(_dir, recursive: true);
        }
    }
}
