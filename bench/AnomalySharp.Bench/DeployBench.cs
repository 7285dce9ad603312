using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using AnomalySharp;
using AnomalySharp.Bench;
using AnomalySharp.Data;
using AnomalySharp.Engine;
using AnomalySharp.Models;
using AnomalySharp.Packaging;
using AnomalySharp.Runtime;
using static TorchSharp.torch;

/// <summary>
/// Every model in one speed table (issue #14 item 2): PaDiM, PatchCore, STFPM, FastFlow, Reverse Distillation and
/// DFM, each trained with its defaults, exported float32 and INT8, and run through the TorchSharp-free runtime
/// in a child process of its own: image AUROC on the whole test set, images/s at batch 1 and 16 (decode included),
/// file size, the child's peak resident memory, the graph's GMAC per image, and the share of this CPU's GEMM limit
/// the batch-1 rate reaches. With a PyTorch reference folder (issue #14 item 3), PatchCore is also exported with its
/// exact search, and PaDiM and PatchCore are run by bench/reference/*_torch.py (PyTorch 1.13 eager, same weights; for
/// PatchCore the same memory bank) in the same run: their images/s, AUROC and peak, and our rate over theirs.
/// </summary>
internal static class DeployBench
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The models of the table, in its order.</summary>
    public static readonly string[] Models = { "padim", "patchcore", "stfpm", "fastflow", "reverse_distillation", "dfm", "fre", "cfa" };

    /// <summary>
    /// Trains (or with <paramref name="reuse"/>, takes a finished `train` output already in WORK/MODEL), exports and measures
    /// each model of <paramref name="only"/>; trained models train at most <paramref name="maxEpochs"/> epochs when given
    /// (their speed does not depend on it; their AUROC does, and the table says how many they trained). Returns the
    /// float32 PaDiM file (for the load test).
    /// </summary>
    public static string Run(MvtecDataset ds, string data, int threads, bool quick, string work, bool reuse,
        IReadOnlyCollection<string> only, int? maxEpochs,
        string? pytorchDir = null)
    {
        double floatLimit = GemmBench.Rate(4096, 256, 256, threads, integer: false), intLimit = GemmBench.Rate(4096, 256, 256, threads,
            integer: true);
        Console.WriteLine(string.Create(Inv,
            $"GEMM limit on this CPU ({threads} threads, 4096×256·256×256): float32 {floatLimit:0.0} GMAC/s, u8×s8 {intLimit:0.0} GMAC/s"));
        Console.WriteLine();
        Console.WriteLine("| model | precision | file | image AUROC | images/s b1 | images/s b16 | peak RSS | GMAC/image (float + "
            + "int8) | bound at the GEMM limit | b1 / bound | training |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
        string padimOnnx = Path.Combine(work, "padim.onnx");
        foreach (string name in Models.Where(only.Contains))
        {
            string dir = Path.Combine(work, name);
            if (!(reuse && File.Exists(Path.Combine(dir, "model.anomalysharp"))))
                Train(name, ds, threads, quick, dir, maxEpochs);
            string training = TrainingText(dir);
            var exporter = new ModelExporter();
            var variants = new List<(string File, string Precision, bool Int8, string ModelDir)> { (name, "float32", false, dir),
                (name + "_int8", "INT8", true, dir) };
            if (name == "patchcore" && pytorchDir != null && File.Exists(Path.Combine(pytorchDir,
                "patchcore_torch.py"))) variants.Add(("patchcore_exact", "float32, exact search", false, ExactCopy(dir,
                    Path.Combine(work, "patchcore_exact"))));
            var rates = new Dictionary<string, (double B1, double B16)>();
            foreach (var (file, precision, int8, modelDir) in variants)
            {
                string path = Path.Combine(work, file + ".onnx");
                try { exporter.Export(modelDir, ExportFormat.Onnx, path, int8, calibration: null, overwrite: true); }
                catch (AnomalySharpException e) // INT8 refused: the model's scores do not survive it
                {
                    Console.WriteLine($"| {name} | {precision} | refused: {e.Message} |");
                    continue;
                }
                var child = ChildRun.Run("dotnet", new[] { typeof(DeployBench).Assembly.Location, "--deploy-one", path, "--data", data,
                    "--threads", threads.ToString(Inv) });
                string? line = child.Output.Split('\n').LastOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
                if (child.ExitCode != 0 || line == null)
                {
                    Console.WriteLine($"| {name} | {precision} | failed (exit {child.ExitCode}): "
                        + $"{child.Output.Split('\n').LastOrDefault(l => l.Length > 0)} |");
                    continue;
                }
                using var result = JsonDocument.Parse(line["RESULT ".Length..]);
                var r = result.RootElement;
                double b1 = r.GetProperty("b1").GetDouble(), b16 = r.GetProperty("b16").GetDouble();
                rates[precision] = (b1, b16);
                double auroc = Auroc(r.GetProperty("scores").EnumerateArray().Select(s => s.GetSingle()).ToArray(), ds);
                var (fl, integer) = GraphCost.PerImage(path, threads);
                double bound = 1 / (fl / floatLimit + integer / intLimit);
                Console.WriteLine(string.Create(Inv,
                    $"| {name} | {precision} | {new FileInfo(path).Length / 1048576.0:0} MB | {auroc:0.000} | {b1:0.0} | {b16:0.0} | "
                        + $"{child.PeakMb:0} MiB | {fl + integer:0.00} ({fl:0.00} + {integer:0.00}) | {bound:0} images/s | "
                            + $"{b1 / bound:0.00} | {training} |"));
            }
            if (pytorchDir != null && File.Exists(Path.Combine(pytorchDir, name + "_torch.py")))
                PyTorchReference(name, data, threads, pytorchDir, work, rates);
            else if (pytorchDir != null && name is not ("padim" or "patchcore") && rates.ContainsKey("float32"))
                GraphReference(name, data, threads, pytorchDir, work, rates["float32"]);
        }
        return padimOnnx;
    }

    /// <summary>A copy of a PatchCore `train` output whose model searches its bank exactly (the same rows; the index is ignored).</summary>
    static string ExactCopy(string dir, string exactDir)
    {
        Directory.CreateDirectory(exactDir);
        var (manifest, tensors) = ModelPackage.Load(Path.Combine(dir, ModelPackage.FileName));
        try
        {
            manifest["config"]!["model"]!["search"] = "exact";
            ModelPackage.Save(Path.Combine(exactDir, ModelPackage.FileName), manifest, tensors);
        }
        finally { foreach (var t in tensors.Values) t.Dispose(); }
        return exactDir;
    }

    /// <summary>
    /// The PyTorch reference of one model in a child (its own process, same data and threads): its line, and our rate over
    /// its rate. PaDiM's reference fits and predicts in batches of 16 (compared with our batch 16); PatchCore's searches
    /// the bank of our float32 export exactly at batch 1 (compared with our exact and default searches at batch 1).
    /// </summary>
    static void PyTorchReference(string name, string data, int threads, string pytorchDir, string work, Dictionary<string, (double B1,
        double B16)> ours)
    {
        var args = new List<string> { Path.Combine(pytorchDir, name + "_torch.py"), "--data", data, "--threads", threads.ToString(Inv),
            "--weights", AnomalySharp.Backbones.PretrainedResNet18.Instance.OnnxPath };
        if (name == "patchcore") args.AddRange(new[] { "--bank", Path.Combine(work, "patchcore.onnx") });
        var (child, line) = RunPython(args);
        var rate = System.Text.RegularExpressions.Regex.Match(line, @"([0-9.]+) images/s");
        var auroc = System.Text.RegularExpressions.Regex.Match(line, @"image AUROC ([0-9.]+)");
        if (child.ExitCode != 0 || !rate.Success)
        {
            ReferenceFailed(name, child);
            return;
        }
        double theirs = double.Parse(rate.Groups[1].Value, Inv);
        string ratio = name == "patchcore"
            ? string.Join("; ", ours.Where(o => o.Key.StartsWith("float32", StringComparison.Ordinal)).Select(o => string.Create(Inv,
                $"{o.Key} b1 {o.Value.B1 / theirs:0.00}×")))
            : string.Join("; ", ours.Select(o => string.Create(Inv, $"{o.Key} b16 {o.Value.B16 / theirs:0.00}×")));
        string batch = name == "patchcore" ? "exact search, same bank, batch 1" : "fit + predict, batch 16";
        Console.WriteLine(string.Create(Inv,
            $"| {name} | PyTorch 1.13 eager ({batch}) | – | {(auroc.Success ? auroc.Groups[1].Value : "–")} | "
                + $"{(name == "patchcore" ? theirs.ToString("0.0", Inv) : "–")} | "
                    + $"{(name == "patchcore" ? "–" : theirs.ToString("0.0", Inv))} | {child.PeakMb:0} MiB | – | – | ours / PyTorch: "
                        + $"{ratio} | {line.Trim()} |"));
    }

    /// <summary>
    /// The PyTorch side of a model without a hand-written reference (the trained networks, the DFM sample): its float32
    /// export run operator by operator in PyTorch eager mode (bench/reference/graph_torch.py), the same algorithm on the
    /// same weights, same protocol as <see cref="MeasureOne"/>; our rates over its rates at batch 1 and 16.
    /// </summary>
    static void GraphReference(string name, string data, int threads, string pytorchDir, string work, (double B1, double B16) ours)
    {
        var (child, line) = RunPython(new[]
            { Path.Combine(pytorchDir, "graph_torch.py"), "--model", Path.Combine(work, name + ".onnx"), "--data", data, "--threads",
                threads.ToString(Inv) });
        var rates = System.Text.RegularExpressions.Regex.Match(line, @"b1 ([0-9.]+) images/s, b16 ([0-9.]+) images/s");
        var auroc = System.Text.RegularExpressions.Regex.Match(line, @"image AUROC ([0-9.]+)");
        if (child.ExitCode != 0 || !rates.Success)
        {
            ReferenceFailed(name, child);
            return;
        }
        double b1 = double.Parse(rates.Groups[1].Value, Inv), b16 = double.Parse(rates.Groups[2].Value, Inv);
        Console.WriteLine(string.Create(Inv,
            $"| {name} | PyTorch 1.13 eager (the float32 graph's operators, same weights) | – | "
                + $"{(auroc.Success ? auroc.Groups[1].Value : "–")} | {b1:0.0} | {b16:0.0} | {child.PeakMb:0} MiB | – | – | ours / "
                    + $"PyTorch: float32 b1 {ours.B1 / b1:0.00}×, b16 {ours.B16 / b16:0.00}× |"));
    }

    /// <summary>A PyTorch reference script in a child (Debian's python3 when there): the child and its last line that reports images/s (""
    /// if none).</summary>
    static (ChildRun.Cost Child, string Line) RunPython(IReadOnlyList<string> args)
    {
        var child = ChildRun.Run(File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3", args);
        return (child, child.Output.Split('\n').LastOrDefault(l => l.Contains("images/s", StringComparison.Ordinal)) ?? "");
    }

    static void ReferenceFailed(string name, ChildRun.Cost child) =>
        Console.WriteLine($"| {name} | PyTorch reference | failed (exit {child.ExitCode}): "
            + $"{child.Output.Split('\n').LastOrDefault(l => l.Length > 0)} |");

    static void Train(string name, MvtecDataset ds, int threads, bool quick, string dir, int? maxEpochs)
    {
        var config = ModelRegistry.Defaults(name);
        config.Set($"runtime.threads={threads}");
        config.Set("visualization.save_images=false");
        if (quick && name == "patchcore") config.Set("model.coreset_ratio=0.01");
        if (config.Has("training.max_epochs") && (quick || maxEpochs != null)) config.Set($"training.max_epochs={(quick ? 1 : maxEpochs)}");
        new AnomalyEngine().Train(config, ds, dir, overwrite: true);
    }

    /// <summary>What the training of a `train` output did, from its results.json: fit seconds, and epochs for a trained model.</summary>
    static string TrainingText(string dir)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "results.json")));
        var root = doc.RootElement;
        string text = root.TryGetProperty("fit_seconds", out var fit) ? string.Create(Inv, $"fit {fit.GetDouble():0} s") : "";
        if (root.TryGetProperty("training", out var t) && t.ValueKind == JsonValueKind.Object)
            text += string.Create(Inv, $", {t.GetProperty("epochs").GetInt32()} "
                + $"epochs{(t.TryGetProperty("stopped_early", out var s) && s.GetBoolean() ? " (stopped early)" : "")}");
        return text;
    }

    static double Auroc(float[] scores, MvtecDataset ds)
    {
        using var st = tensor(scores);
        using var lt = tensor(ds.Test.Select(s => s.IsAnomalous ? 1f : 0f).ToArray());
        return AnomalySharp.Metrics.Auroc.Compute(st, lt);
    }

    /// <summary>
    /// The child's side: the exported file alone in this process (the runtime, no TorchSharp), scores of every test image
    /// at batch 16, then images/s over the first 64 test images at batch 1 and 16 (one warm-up pass first).
    /// </summary>
    public static int MeasureOne(string path, string data, int threads)
    {
        var test = new MvtecDataset(data).Test;
        using var detector = new OnnxAnomalyDetector(path, new DetectorOptions { ThreadsPerSession = threads });
        var scores = new List<float>();
        foreach (var chunk in test.Chunk(16))
            scores.AddRange(detector.PredictFiles(chunk.Select(s => s.ImagePath).ToList()).Select(p => p.Score));
        var speedFiles = test.Take(64).Select(s => s.ImagePath).ToList();
        double Rate(int batch)
        {
            var sw = Stopwatch.StartNew();
            foreach (var chunk in speedFiles.Chunk(batch)) detector.PredictFiles(chunk);
            return speedFiles.Count / sw.Elapsed.TotalSeconds;
        }
        Rate(1);
        double b1 = Rate(1), b16 = Rate(16);
        Console.WriteLine("RESULT " + JsonSerializer.Serialize(new { b1, b16, scores }));
        return 0;
    }
}
