using AnomalySharp.Models;
using System.Diagnostics;
using System.Text.Json.Nodes;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Engine;
using AnomalySharp.Export;
using AnomalySharp.Runtime;
using static TorchSharp.torch;

/// <summary>
/// Deployment figures (issue #5): per model, image AUROC of TorchSharp vs exported ONNX (float32, INT8) on the full
/// test set, and images/s at batch 1 and 16 for each (decode included).
/// </summary>
internal static class DeployBench
{
    public static string Run(MvtecDataset ds, int threads, bool quick, string work)
    {
        Console.WriteLine();
        Console.WriteLine("| model | path | image AUROC | images/s batch 1 | images/s batch 16 |");
        Console.WriteLine("|---|---|---|---|---|");
        string? padimOnnx = null;
        foreach (var (name, sets) in new[] { ("padim", Array.Empty<string>()), ("patchcore", quick ? new[] { "model.coreset_ratio=0.01" } : Array.Empty<string>()) })
        {
            var config = ModelRegistry.Defaults(name);
            config.Set($"runtime.threads={threads}");
            config.Set("visualization.save_images=false");
            foreach (string s in sets) config.Set(s);
            string dir = Path.Combine(work, name);
            var results = new AnomalyEngine().Train(config, ds, dir, overwrite: true).ToJson();
            string floatPath = Path.Combine(work, name + ".onnx"), int8Path = Path.Combine(work, name + "_int8.onnx");
            var exporter = new ModelExporter();
            exporter.Export(dir, "onnx", floatPath, int8: false, calibration: null, overwrite: true);
            exporter.Export(dir, "onnx", int8Path, int8: true, calibration: null, overwrite: true);
            if (name == "padim") padimOnnx = floatPath;

            var speedFiles = ds.Test.Take(64).ToList();
            foreach (var (label, path) in new[] { ("exported ONNX float32", floatPath), ("exported ONNX INT8", int8Path) })
            {
                using var detector = new OnnxAnomalyDetector(path, new DetectorOptions { ThreadsPerSession = threads });
                var scores = new List<float>();
                foreach (var chunk in ds.Test.Chunk(16))
                    scores.AddRange(detector.PredictFiles(chunk.Select(s => s.ImagePath).ToList()).Select(p => p.Score));
                using var st = tensor(scores.ToArray());
                using var lt = tensor(ds.Test.Select(s => s.IsAnomalous ? 1f : 0f).ToArray());
                double auroc = AnomalySharp.Metrics.Auroc.Compute(st, lt);
                double Rate(int batch)
                {
                    var sw = Stopwatch.StartNew();
                    foreach (var chunk in speedFiles.Chunk(batch)) detector.PredictFiles(chunk.Select(s => s.ImagePath).ToList());
                    return speedFiles.Count / sw.Elapsed.TotalSeconds;
                }
                Rate(1);
                Console.WriteLine($"| {name} | {label} ({new FileInfo(path).Length / 1048576.0:0} MB) | {auroc:0.000} | {Rate(1):0.0} | {Rate(16):0.0} |");
            }
        }
        Console.WriteLine($"(peak resident memory of this process so far: {MemoryMonitor.PeakResidentMb():0} MiB)");
        return padimOnnx!;
    }
}
