using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace AnomalySharp.Bench;

/// <summary>
/// `--pipeline [--pytorch bench/reference]`: the whole `train` a user waits for, as that user runs it (the CLI in a
/// process of its own), PaDiM and PatchCore (10% coreset) with images and report off, then the PyTorch reference's
/// PaDiM on the same data and weights twice (as it runs by default, and with glibc's heap on huge pages, where our CLI
/// puts its own), one after the other in one invocation: wall seconds, peak resident memory,
/// image AUROC, and our stages from results.json's `timings`. Every figure comes from this one run.
/// </summary>
internal static partial class PipelineBench
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(string data, int threads, string? reference, string? work)
    {
        string dir = work ?? Path.Combine(Path.GetTempPath(), $"anomalysharp-pipeline-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        string t = threads.ToString(Inv);
        Console.WriteLine($"# AnomalySharp pipeline bench: {data}, {threads} threads, {Environment.ProcessorCount} cores, "
            + $"CPU: {Cpu()}");
        var rows = new List<(string Name, ChildRun.Cost Cost, string Auroc, JsonObject? Timings)>();
        var hugePages = new Dictionary<string, bool>(); // our runs: whether results.json says the heap was on huge pages
        foreach (var (model, sets) in new[] { ("padim", Array.Empty<string>()), ("patchcore", new[] { "model.coreset_ratio=0.1" }) })
        {
            string output = Path.Combine(dir, model);
            var args = new List<string> { ContentionBench.CliPath(), "train", "--model", model, "--data", data, "--threads", t, "--output",
                output, "--overwrite", "--set", "visualization.save_images=false" };
            foreach (string s in sets) { args.Add("--set"); args.Add(s); }
            var cost = ChildRun.Run("dotnet", args);
            if (cost.ExitCode != 0) throw new InvalidOperationException($"train {model} failed:\n{cost.Output}");
            var results = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "results.json")))!;
            string name = $"AnomalySharp {model}{(model == "patchcore" ? " 10%" : "")} `train`";
            hugePages[name] = (bool?)results["huge_pages"] ?? false;
            rows.Add((name, cost,
                ((double)results["image_auroc"]!).ToString("0.00000", Inv), results["timings"] as JsonObject));
        }
        if (reference != null)
        {
            // As a user runs it, then with glibc's heap on huge pages as our CLI puts its own (HugePages): equal footing.
            string python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
            foreach (bool huge in new[] { false, true })
            {
                var env = huge ? new Dictionary<string, string> { ["GLIBC_TUNABLES"] = "glibc.malloc.hugetlb=1" } : null;
                var cost = ChildRun.Run(python, new[] { Path.Combine(reference, "padim_torch.py"), "--data", data, "--threads", t,
                    "--weights", Backbones.PretrainedResNet18.Instance.OnnxPath }, env);
                if (cost.ExitCode != 0) throw new InvalidOperationException($"the PyTorch reference failed:\n{cost.Output}");
                var m = ReferenceLine().Match(cost.Output);
                var timings = m.Success ? new JsonObject { ["fit"] = double.Parse(m.Groups[1].Value, Inv) } : null;
                rows.Add(($"PyTorch reference PaDiM (padim_torch.py){(huge ? ", heap on huge pages" : "")}", cost, AurocOf(cost.Output),
                    timings));
            }
        }
        Console.WriteLine("| run | wall s | CPU s | peak RSS MB | image AUROC | fit s | evaluate s | calibrate + metrics s |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var (name, cost, auroc, timings) in rows)
        {
            string Stage(params string[] keys) => timings is null || !keys.All(timings.ContainsKey) ? "–"
                : keys.Sum(k => (double)timings[k]!).ToString("0.0", Inv);
            Console.WriteLine(string.Create(Inv,
                $"| {name} | {cost.WallSeconds:0.0} | {cost.CpuSeconds:0.0} | {cost.PeakMb:0} | {auroc} | ")
                + $"{Stage("fit")} | {Stage("evaluate")} | {Stage("calibrate", "metrics")} |");
        }
        if (reference != null)
        {
            double plain = rows[^2].Cost.WallSeconds, huge = rows[^1].Cost.WallSeconds;
            foreach (var row in rows.Take(rows.Count - 2))
                Console.WriteLine(string.Create(Inv, $"- {row.Name} (heap on huge pages: {(hugePages[row.Name] ? "yes" : "no")}): "
                    + $"{row.Cost.WallSeconds / plain:0.00}× the reference PaDiM as it runs by default, "
                    + $"{row.Cost.WallSeconds / huge:0.00}× the reference on huge pages"));
        }
        return 0;
    }

    static string AurocOf(string output) => AurocLine().Match(output) is { Success: true } m ? m.Groups[1].Value : "?";

    /// <summary>The CPU's model name and its vector extensions that matter here.</summary>
    static string Cpu()
    {
        try
        {
            var lines = File.ReadAllLines("/proc/cpuinfo");
            string name = lines.FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
            var flags = (lines.FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(':', 2)[1] ?? "").Split(' ');
            var shown = new[] { "avx2", "avx512f", "avx512_vnni", "avx_vnni" }.Where(flags.Contains);
            return $"{name} ({string.Join(", ", shown)})";
        }
        catch (IOException) { return "?"; }
    }

    [GeneratedRegex(@"fit ([\d.]+) s")]
    private static partial Regex ReferenceLine();

    [GeneratedRegex(@"image AUROC ([\d.]+)")]
    private static partial Regex AurocLine();
}
