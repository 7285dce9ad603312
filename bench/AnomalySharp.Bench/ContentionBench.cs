using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;

namespace AnomalySharp.Bench;

/// <summary>
/// `--busy N`: how much each command slows down when the cores are shared. Every command runs as its own process
/// (the CLI built beside this repository), first on a quiet machine and then beside N busy-loop processes (two beside
/// a 2-thread run on 2 cores leave it a fair share of half the machine), once as it runs by default ("short-spin":
/// idle threads sleep after a short spin) and once spinning (<c>ANOMALYSHARP_SPIN=1</c>: ONNX Runtime's and OpenMP's
/// defaults, the behaviour before). Reported per run: wall and CPU seconds of the whole process, peak RSS, and the slowdown and CPU ratios
/// against the quiet run of the same mode; all figures come from this one run.
/// </summary>
public static class ContentionBench
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    static int _repeat = 1;

    /// <summary>One measured command.</summary>
    sealed record Row(string Command, string Mode, ChildRun.Cost Quiet, ChildRun.Cost Busy, int Images, string? Detail);

    public static async Task<int> Run(string data, int busy, int threads, IReadOnlySet<string> only, bool pytorch,
        string? pytorchScript, int repeat, string[] modes)
    {
        _repeat = repeat;
        string cli = CliPath();
        if (!File.Exists(cli))
        {
            Console.Error.WriteLine($"error: build the CLI first (dotnet build src/AnomalySharp.Cli -c Release): {cli}"); return 2;
        }
        string work = Path.Combine(Path.GetTempPath(), "anomalysharp-bench-busy");
        if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        Directory.CreateDirectory(work);
        string testFolder = FlatTestFolder(data, work);
        int trainCount = Directory.GetFiles(Path.Combine(data, "train", "good")).Length, testCount = Directory.GetFiles(testFolder).Length;
        string t = threads.ToString(Inv);
        Console.WriteLine($"# Shared cores — {Environment.ProcessorCount} cores, {threads} threads, beside {busy} busy-loop "
            + $"processes; {data}: {trainCount} train, {testCount} test images, 256 px");
        Console.WriteLine();
        var rows = new List<Row>();
        string Out(string name) => Path.Combine(work, name);
        IEnumerable<string> Train(string model, string output, params string[] sets) =>
            new[] { cli, "train", "--model", model, "--data", data, "--output", output, "--threads", t, "--overwrite", "--set",
                "visualization.save_images=false" }
                .Concat(sets.SelectMany(s => new[] { "--set", s }));

        foreach (string mode in modes)
        {
            if (only.Contains("padim"))
                rows.Add(Measure("train padim", mode, busy, trainCount + testCount, Train("padim", Out($"padim-{mode}")),
                    Out($"padim-{mode}")));
            if (only.Contains("patchcore"))
                rows.Add(Measure("train patchcore 1%", mode, busy, trainCount + testCount, Train("patchcore", Out($"patchcore-{mode}"),
                    "model.coreset_ratio=0.01"), Out($"patchcore-{mode}")));
        }
        string onnx = Out("padim.onnx");
        if (only.Contains("predict") || only.Contains("serve"))
        {
            string model = Out($"padim-{modes[0]}");
            if (!File.Exists(Path.Combine(model, "model.anomalysharp")))
                Check(ChildRun.Run("dotnet", Train("padim", model)), "train padim");
            Check(ChildRun.Run("dotnet", new[] { cli, "export", "--model-path", model, "--output", onnx, "--overwrite" }), "export");
        }
        foreach (string mode in modes)
        {
            if (only.Contains("predict"))
                rows.Add(Measure("predict padim.onnx, batch 1", mode, busy, testCount,
                    new[] { cli, "predict", "--model-path", onnx, "--input", testFolder, "--output", Out("predicted"), "--overwrite",
                        "--threads", t, "--batch-size", "1" }, null));
            if (only.Contains("serve"))
                rows.Add(await Serve(cli, onnx, testFolder, mode, busy, threads));
        }
        if (pytorch && pytorchScript != null)
        {
            var args = new[] { pytorchScript, "--data", data, "--threads", t, "--weights", ResNet18Onnx() };
            rows.Add(Measure("PyTorch 1.13 PaDiM (fit + predict)", "its default", busy, trainCount + testCount, args, null,
                File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3"));
        }

        Console.WriteLine("| command | idle threads | quiet: wall | CPU | peak RSS | beside busy: wall | CPU | slowdown | CPU "
            + "busy/quiet | detail (quiet → busy) |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in rows)
        {
            string more = r.Busy.Stopped ? "> " : "";
            Console.WriteLine(string.Create(Inv,
                $"| {r.Command} | {r.Mode} | {r.Quiet.WallSeconds:0.0} s | {r.Quiet.CpuSeconds:0.0} s | {r.Quiet.PeakMb:0} MB | "
                    + $"{more}{r.Busy.WallSeconds:0.0} s | {more}{r.Busy.CpuSeconds:0.0} s | "
                        + $"{more}{r.Busy.WallSeconds / r.Quiet.WallSeconds:0.00}× | "
                            + $"{more}{r.Busy.CpuSeconds / r.Quiet.CpuSeconds:0.00} | {r.Detail} |"));
        }
        Console.WriteLine();
        foreach (var group in rows.GroupBy(r => r.Command).Where(g => g.Count() == 2))
        {
            var sleep = group.First(r => r.Mode == "short-spin");
            var spin = group.First(r => r.Mode == "spin");
            Console.WriteLine(string.Create(Inv,
                $"- {group.Key}: quiet wall short-spin/spinning {sleep.Quiet.WallSeconds / spin.Quiet.WallSeconds:0.00}, quiet CPU "
                    + $"{sleep.Quiet.CpuSeconds / spin.Quiet.CpuSeconds:0.00}; beside busy, wall "
                        + $"{sleep.Busy.WallSeconds / spin.Busy.WallSeconds:0.00}, CPU "
                            + $"{sleep.Busy.CpuSeconds / spin.Busy.CpuSeconds:0.00}"));
        }
        return 0;
    }

    static Row Measure(string command, string mode, int busy, int images, IEnumerable<string> args, string? resultsFolder,
        string program = "dotnet")
    {
        var env = ModeEnvironment(mode);
        // With --repeat R, each run R times, keeping the one of median wall time.
        ChildRun.Cost Median(Func<ChildRun.Cost> run)
        {
            var costs = Enumerable.Range(0, _repeat).Select(_ => run()).ToList();
            foreach (var c in costs.Where(c => !c.Stopped)) Check(c, command);
            return costs.OrderBy(c => c.WallSeconds).ElementAt((costs.Count - 1) / 2);
        }
        var quiet = Median(() => ChildRun.Run(program, args, env));
        bool dotnet = program == "dotnet";
        string? before = resultsFolder != null ? Detail(resultsFolder) : LastLine(quiet.Output, dotnet);
        // A run beside the busy processes is stopped at 3× its quiet time (reported as "stopped"): spinning can take 10×.
        var limit = TimeSpan.FromSeconds(Math.Max(60, 3 * quiet.WallSeconds));
        var loaded = Median(() => { using (new BusyLoops(busy)) return ChildRun.Run(program, args, env, limit); });
        string? after = loaded.Stopped ? $"stopped at {limit.TotalSeconds:0} s" : resultsFolder != null
            ? Detail(resultsFolder) : LastLine(loaded.Output, dotnet);
        Console.Error.WriteLine(string.Create(Inv,
            $"{command} ({mode}): quiet {quiet.WallSeconds:0.0} s, busy {loaded.WallSeconds:0.0} s"));
        return new Row(command, mode, quiet, loaded, images, $"{before} → {after}");
    }

    static async Task<Row> Serve(string cli, string onnx, string testFolder, string mode, int busy, int threads)
    {
        var files = Directory.GetFiles(testFolder).Take(64).Select(f => (Name: Path.GetFileName(f), Bytes: File.ReadAllBytes(f))).ToList();
        const int requests = 600, clients = 4;
        int sessions = Math.Min(2, threads), perSession = Math.Max(1, threads / sessions);
        async Task<(ChildRun.Cost Cost, double Rate)> Once(bool loaded)
        {
            var info = new ProcessStartInfo("dotnet");
            foreach (string a in new[] { cli, "serve", "--model", onnx, "--port", "0", "--sessions", sessions.ToString(Inv),
                "--threads", perSession.ToString(Inv) })
                info.ArgumentList.Add(a);
            foreach (var (k, v) in ModeEnvironment(mode)) info.Environment[k] = v;
            var (server, address) = BurstProbe.StartServe(info);
            using var _ = server;
            try
            {
                using var http = new HttpClient
                {
                    BaseAddress = await address.WaitAsync(TimeSpan.FromSeconds(60)),
                    Timeout = TimeSpan.FromMinutes(5)
                };
                async Task Post(int i)
                {
                    var (name, bytes) = files[i % files.Count];
                    using var form = new MultipartFormDataContent();
                    var file = new ByteArrayContent(bytes);
                    file.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
                    form.Add(file, "image", name);
                    using var response = await http.PostAsync("predict", form);
                    if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"serve answered "
                        + $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                }
                for (int i = 0; i < 16; i++) await Post(i);
                using var loops = loaded ? new BusyLoops(busy) : null;
                double cpu0 = ChildRun.ProcessCpuSeconds(server.Id);
                var clock = Stopwatch.StartNew();
                int next = -1;
                await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
                {
                    int i;
                    while ((i = Interlocked.Increment(ref next)) < requests) await Post(i);
                }));
                double wall = clock.Elapsed.TotalSeconds, cpu = ChildRun.ProcessCpuSeconds(server.Id) - cpu0;
                return (new ChildRun.Cost(wall, cpu, ChildRun.StatusMb(server.Id, "VmHWM:"), 0, ""), requests / wall);
            }
            finally
            {
                if (!server.HasExited) { server.Kill(entireProcessTree: true); server.WaitForExit(); }
            }
        }
        var quiet = await Median(false);
        var busyRun = await Median(true);
        async Task<(ChildRun.Cost Cost, double Rate)> Median(bool loaded)
        {
            var runs = new List<(ChildRun.Cost Cost, double Rate)>();
            for (int i = 0; i < _repeat; i++) runs.Add(await Once(loaded));
            return runs.OrderBy(r => r.Cost.WallSeconds).ElementAt((runs.Count - 1) / 2);
        }
        string command = $"serve padim.onnx, {requests} requests from {clients} clients, {sessions} sessions × {perSession} thread(s) "
            + $"(server process only)";
        Console.Error.WriteLine(string.Create(Inv, $"serve ({mode}): quiet {quiet.Rate:0.0}/s, busy {busyRun.Rate:0.0}/s"));
        return new Row(command, mode, quiet.Cost, busyRun.Cost, requests, string.Create(Inv,
            $"{quiet.Rate:0.0} → {busyRun.Rate:0.0} requests/s"));
    }

    /// <summary>"short-spin": the default; "spin": <c>ANOMALYSHARP_SPIN=1</c>, both libraries' own defaults (the behaviour
    /// before).</summary>
    static Dictionary<string, string> ModeEnvironment(string mode) => mode == "spin" ? new() { ["ANOMALYSHARP_SPIN"] = "1" } : new();

    static string Detail(string folder)
    {
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "results.json")))!;
        return string.Create(Inv, $"fit {(double)results["fit_seconds"]!:0.0} s, {(double)results["predict_images_per_second"]!:0.0} "
            + $"img/s, AUROC {(double)results["image_auroc"]!:0.000}");
    }

    /// <summary>The command's last line; of the CLI's "predicted N images in S s (R images/s, ...)" only what is in parentheses.</summary>
    static string LastLine(string output, bool cli) => output.Split('\n',
        StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() is { } line
        ? (cli && line.Contains('(') && line.Contains(')') ? line[(line.IndexOf('(') + 1)..line.IndexOf(')')] : line) : "";

    static void Check(ChildRun.Cost cost, string what)
    {
        if (cost.ExitCode != 0) throw new InvalidOperationException($"{what} failed (exit {cost.ExitCode}):\n{cost.Output}");
    }

    /// <summary>Every test image in one folder (symbolic links), for a command that reads one folder.</summary>
    static string FlatTestFolder(string data, string work)
    {
        string folder = Path.Combine(work, "test-images");
        Directory.CreateDirectory(folder);
        foreach (string dir in Directory.GetDirectories(Path.Combine(data, "test")).Order(StringComparer.Ordinal))
            foreach (string file in Directory.GetFiles(dir).Order(StringComparer.Ordinal))
                File.CreateSymbolicLink(Path.Combine(folder, $"{Path.GetFileName(dir)}_{Path.GetFileName(file)}"), Path.GetFullPath(file));
        return folder;
    }

    /// <summary>The AnomalySharp.Cli.dll to run: ANOMALYSHARP_CLI (another build, to compare versions), else this repository's Release
    /// build.</summary>
    public static string CliPath() => System.Environment.GetEnvironmentVariable("ANOMALYSHARP_CLI") is { Length: > 0 } other ? other
        : Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "src", "AnomalySharp.Cli", "bin",
            "Release", "net10.0", "AnomalySharp.Cli.dll"));

    /// <summary>The packaged ResNet18 ONNX file (the weights the PyTorch reference loads too).</summary>
    static string ResNet18Onnx() => Backbones.PretrainedResNet18.Instance.OnnxPath;

    /// <summary>N processes that spin on a core each until disposed.</summary>
    sealed class BusyLoops : IDisposable
    {
        readonly List<Process> _loops = new();

        public BusyLoops(int count)
        {
            for (int i = 0; i < count; i++)
            {
                var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
                info.ArgumentList.Add("-c"); info.ArgumentList.Add("while :; do :; done");
                _loops.Add(Process.Start(info)!);
            }
        }

        public void Dispose()
        {
            foreach (var p in _loops) { try { p.Kill(); p.WaitForExit(); } catch (InvalidOperationException) { } p.Dispose(); }
        }
    }
}
