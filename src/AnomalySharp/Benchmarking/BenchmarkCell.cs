using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using AnomalySharp.Configuration;
using AnomalySharp.Data;
using AnomalySharp.Engine;
using AnomalySharp.IO;
using AnomalySharp.Models;
using AnomalySharp.Packaging;
using AnomalySharp.Runtime;

namespace AnomalySharp.Benchmarking;

/// <summary>
/// One cell of a benchmark grid, run in its own process by `anomalysharp benchmark`: train and evaluate (TorchSharp
/// path), export to ONNX and time ONNX Runtime prediction over the same test images (decode included, batch 16), and
/// write cell.json with the metrics, timings, peak memory and model sizes next to the run's curves.json.
/// </summary>
internal static class BenchmarkCell
{
    /// <summary>The dataset a grid names: "synthetic" or "synthetic:object" (built in), else an MVTec-layout folder.</summary>
    public static IAnomalyDataset ResolveData(string spec, int seed)
    {
        if (spec == "synthetic" || spec.StartsWith("synthetic:", StringComparison.Ordinal))
        {
            var options = new SyntheticDataset.Options(
                Kind: SyntheticDataset.ParseKind(spec.Contains(':') ? spec[10..] : "texture", $"dataset '{spec}'"), Seed: seed);
            return SyntheticDataset.Create(SyntheticDataset.DefaultRoot(options), options);
        }
        return new MvtecDataset(spec);
    }

    /// <summary>A short row name for a dataset spec.</summary>
    public static string DataName(string spec) => spec.StartsWith("synthetic", StringComparison.Ordinal)
        ? "synthetic-" + (spec.Contains(':')
            ? spec[10..] : "texture") : Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(spec)));

    /// <summary>Runs the cell into <paramref name="output"/> (the train run goes to output/run) and returns cell.json.</summary>
    public static JsonObject Run(string dataSpec, string model, int seed, IReadOnlyList<string> sets, string output, int? threads,
        CancellationToken cancellation = default)
    {
        var config = ModelRegistry.Defaults(model);
        config.Set($"seed={seed}");
        config.Set("visualization.save_images=false");
        if (threads != null) config.Set($"runtime.threads={threads}");
        foreach (string s in sets) config.Set(s);
        var data = ResolveData(dataSpec, seed); // as `train` does: the built-in synthetic data is generated from the run's seed
        string cellJson = Path.Combine(output, "cell.json");
        using var folder = new ResumableFolder(output, () => File.Exists(cellJson));
        string run = Path.Combine(output, "run");
        var results = new AnomalyEngine(cancellation: cancellation).Train(config, data, run, overwrite: true).ToJson();
        int threadCount = RunSettings.ApplyThreads(config);

        string onnx = Path.Combine(output, "model.onnx");
        double? onnxRate = null, onnxMb = null;
        string? onnxError = null;
        try
        {
            new ModelExporter(cancellation: cancellation).Export(run, ExportFormat.Onnx, onnx, int8: false, calibration: null,
                overwrite: true);
        }
        catch (AnomalySharpException e) { onnxError = e.Message; }
        if (onnxError == null)
        {
            using var detector = new OnnxAnomalyDetector(onnx, new DetectorOptions { ThreadsPerSession = threadCount });
            var clock = Stopwatch.StartNew();
            foreach (var chunk in data.Test.Chunk(16)) detector.PredictFiles(chunk.Select(s => s.ImagePath).ToList());
            onnxRate = Math.Round(data.Test.Count / clock.Elapsed.TotalSeconds, 2);
            onnxMb = Math.Round(new FileInfo(onnx).Length / 1048576.0, 2);
            File.Delete(onnx); // its size is recorded; a grid of them would fill the disk
        }
        var cell = new JsonObject
        {
            ["data"] = DataName(dataSpec), ["data_spec"] = dataSpec, ["model"] = model, ["seed"] = seed,
            ["sets"] = new JsonArray(sets.Select(s => (JsonNode)s).ToArray()),
            ["image_auroc"] = results["image_auroc"]?.DeepClone(), ["pixel_auroc"] = results["pixel_auroc"]?.DeepClone(),
            ["aupro"] = results["aupro"]?.DeepClone(), ["aupro_small"] = results["aupro_small"]?.DeepClone(),
            ["small_regions"] = results["small_regions"]?.DeepClone(), ["image_f1max"] = results["image_f1max"]?.DeepClone(),
            ["fit_seconds"] = results["fit_seconds"]?.DeepClone(),
            ["evaluate_images_per_second"] = results["predict_images_per_second"]?.DeepClone(),
            ["onnx_images_per_second"] = onnxRate,
            ["onnx_error"] = onnxError,
            ["peak_memory_mb"] = results["peak_memory_mb"]?.DeepClone(),
            ["fit_peak_memory_mb"] = results["fit_peak_memory_mb"]?.DeepClone(),
            ["model_mb"] = Math.Round(new FileInfo(Path.Combine(run, ModelPackage.FileName)).Length / 1048576.0, 2),
            ["onnx_mb"] = onnxMb,
            ["threads"] = threadCount, ["n_train"] = results["n_train"]?.DeepClone(), ["n_test"] = results["n_test"]?.DeepClone(),
        };
        File.WriteAllText(cellJson, cell.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        folder.Complete();
        return cell;
    }
}
