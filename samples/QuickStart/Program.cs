// AnomalySharp from C#, without the command line: data, model, fit, evaluate, save, reload, predict, export.
// Usage: dotnet run --project samples/QuickStart -c Release -- [MVTEC_DIR] [OUTPUT_DIR]
using AnomalySharp.Data;
using AnomalySharp.Engine;
using AnomalySharp.Export;
using AnomalySharp.Models;
using AnomalySharp.Runtime;

// 1. Data: an MVTec-layout folder, or the built-in synthetic set.
var options = new SyntheticDataset.Options(Seed: 42);
IAnomalyDataset data = args.Length > 0 ? new MvtecDataset(args[0]) : SyntheticDataset.Create(SyntheticDataset.DefaultRoot(options), options);
string output = args.Length > 1 ? args[1] : Path.Combine(Path.GetTempPath(), "anomalysharp-quickstart");

// 2. A model with its defaults, some keys changed.
var config = ModelRegistry.Defaults("patchcore");
config.Set("model.coreset_ratio=0.05");
config.Set("data.image_size=224");

// 3. Fit, choose thresholds, evaluate, save the model and a report (atomically, into `output`).
var results = new AnomalyEngine().Train(config, data, output, overwrite: true);
Console.WriteLine($"image AUROC {results["image_auroc"]}, pixel AUROC {results["pixel_auroc"]}, AUPRO {results["aupro"]}");

// 4. Reload in any process and score images: normalized maps and scores, 0.5 is the threshold.
using var model = TrainedModel.Load(output);
var batcher = new Batcher(model.ImageSize, batchSize: 8);
foreach (var batch in batcher.Enumerate(data.Test.Take(8).ToList(), loadMasks: false))
    using (batch)
    {
        var (maps, scores) = model.PredictNormalized(batch.Images);
        var values = scores.data<float>().ToArray();
        for (int i = 0; i < values.Length; i++)
            Console.WriteLine($"{batch.Samples[i].Id}: score {values[i]:0.000} → {(values[i] >= 0.5 ? "anomalous" : "normal")}");
        maps.Dispose(); scores.Dispose();
    }

// 5. Export one self-contained ONNX file and run it with the TorchSharp-free runtime (what an edge device ships).
string onnx = Path.Combine(output, "model.onnx");
OnnxExporter.Save(OnnxExporter.Build(model), onnx);
using var detector = new OnnxAnomalyDetector(onnx);
var first = data.Test[0];
var result = detector.Predict(File.ReadAllBytes(first.ImagePath), first.ImagePath, masks: true);
Console.WriteLine($"onnx {first.Id} → score {result.Score:0.000} → {(result.IsAnomalous ? "anomalous" : "normal")}, mask {result.Width}x{result.Height}");
return 0;
