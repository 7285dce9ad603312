using System.Diagnostics;
using AnomalySharp.Backbones;
using AnomalySharp.Data;
using static TorchSharp.torch;

int threads = args.Length > 0 ? int.Parse(args[0]) : Environment.ProcessorCount;
set_num_threads(threads);
var ds = new MvtecDataset("../shared/data/magnetic_tile");
var samples = ds.Train.Take(240).ToList();
var sw = Stopwatch.StartNew();
foreach (var s in samples) ImageIO.Decode(s.ImagePath);
Console.WriteLine($"decode only (1 thread): {samples.Count / sw.Elapsed.TotalSeconds:0.0} images/s");
sw.Restart();
var decoded = samples.Select(s => ImageIO.Decode(s.ImagePath)).ToList();
sw.Restart();
foreach (var d in decoded) ImageIO.ToTensor(d, 256).Dispose();
Console.WriteLine($"to tensor+resize: {samples.Count / sw.Elapsed.TotalSeconds:0.0} images/s");
sw.Restart();
foreach (var b in new Batcher(256, 16).Enumerate(samples, false)) b.Dispose();
Console.WriteLine($"batcher: {samples.Count / sw.Elapsed.TotalSeconds:0.0} images/s");
var ext = BackboneFactory.Get("resnet18", "onnxruntime", threads);
sw.Restart();
foreach (var b in new Batcher(256, 16).Enumerate(samples, false)) { using (b) using (var s = NewDisposeScope()) ext.Extract(b.Images, new[] { "layer1", "layer2", "layer3" }); }
Console.WriteLine($"batcher+ort backbone: {samples.Count / sw.Elapsed.TotalSeconds:0.0} images/s");
var batch = new Batcher(256, 16).Enumerate(samples, false).First();
double T(string n, Action a) { a(); var w = Stopwatch.StartNew(); for (int i = 0; i < 3; i++) a(); double r = 48 / w.Elapsed.TotalSeconds; Console.WriteLine($"{n}: {r:0.0} images/s"); return r; }
T("ort extract real batch", () => { using var s = NewDisposeScope(); ext.Extract(batch.Images, new[] { "layer1", "layer2", "layer3" }); });
T("ort extract zeros", () => { using var s = NewDisposeScope(); ext.Extract(zeros(16, 3, 256, 256), new[] { "layer1", "layer2", "layer3" }); });
T("torch extract real batch", () => { using var s = NewDisposeScope(); PretrainedResNet18.Instance.Extract(batch.Images, new[] { "layer1", "layer2", "layer3" }); });
