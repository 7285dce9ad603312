// AnomalySharp from C#, without the command line: data, model, fit, evaluate, save, reload, predict, export.
// Usage: dotnet run --project samples/QuickStart -c Release -- [MVTEC_DIR] [OUTPUT_DIR]
using AnomalySharp.Data;
using AnomalySharp.Engine;
using AnomalySharp.Export;
using AnomalySharp.Models;
using AnomalySharp.Packaging;
using AnomalySharp.Runtime;

// 1. Data: an MVTec-layout folder, or the built-in synthetic set.
var options = new SyntheticDataset.Options(Seed: 42);
IAnomalyDataset data = args.Length > 0 ? new MvtecDataset(args[0]) : SyntheticDataset.Create(SyntheticDataset.DefaultRoot(options),
    options);
string output = args.Length > 1 ? args[1] : Path.Combine(Path.GetTempPath(), "anomalysharp-quickstart");

// 2. A model with its defaults, some keys changed.
var config = ModelRegistry.Defaults("patchcore");
config.Set("model.coreset_ratio=0.05");
config.Set("data.image_size=224");

// 3. Fit, choose thresholds, evaluate, save the model and a report (atomically, into `output`).
var results = new AnomalyEngine().Train(config, data, output, overwrite: true);
var metrics = results.Evaluation;
Console.WriteLine($"image AUROC {metrics.ImageAuroc:0.000}, pixel AUROC {metrics.PixelAuroc:0.000}, AUPRO {metrics.Aupro:0.000}");

// 4. Reload in any process and score images: normalized maps and scores, 0.5 is the threshold. The detector runs
//    the model's inference graph in ONNX Runtime: what `test` measured and what an exported file gives.
using (var model = TrainedModel.Load(output))
using (var saved = model.CreateDetector())
    foreach (var (sample, prediction) in data.Test.Take(8).Zip(saved.PredictFiles(data.Test.Take(8).Select(s => s.ImagePath).ToList())))
        Console.WriteLine($"{sample.Id}: score {prediction.Score:0.000} → {(prediction.IsAnomalous ? "anomalous" : "normal")}");

// 5. Export one self-contained ONNX file and run it with the TorchSharp-free runtime (what an edge device ships).
string onnx = Path.Combine(output, "model.onnx");
using (var model = TrainedModel.Load(output)) OnnxExporter.Save(OnnxExporter.Build(model), onnx);
using var detector = new OnnxAnomalyDetector(onnx);
var first = data.Test[0];
var result = detector.Predict(File.ReadAllBytes(first.ImagePath), first.ImagePath, masks: true);
Console.WriteLine($"onnx {first.Id} → score {result.Score:0.000} → {(result.IsAnomalous ? "anomalous" : "normal")}, mask "
    + $"{result.Width}x{result.Height}");
return 0;
