using System.Diagnostics;
using System.Globalization;
using AnomalySharp.Backbones;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Inference;
using AnomalySharp.Models;
using AnomalySharp.PostProcessing;
using static TorchSharp.torch;

// AnomalySharp benchmark: PaDiM fit and predict on a real MVTec-layout dataset, plus its hot paths.
// Usage: dotnet run --project bench/AnomalySharp.Bench -c Release -- [--data DIR] [--threads N] [--quick] [--deploy [--load]]
// ... -- --deploy [--only padim,patchcore,stfpm,fastflow,reverse_distillation,dfm,fre,cfa] [--work DIR [--reuse]] [--epochs N] [--load]
// [--pytorch bench/reference]: every model trained
// with its defaults (or, with --reuse, the `train` output already in WORK/MODEL), exported float32 and INT8, each run in a child
// process: image AUROC, images/s at batch 1 and 16 with decode, file size, peak RSS, GMAC per image, share of the GEMM limit; with
// --pytorch (the reference folder) PatchCore's exact search too, PaDiM and PatchCore in PyTorch on the same weights and bank, and every
// other model's float32 graph run by PyTorch (graph_torch.py)
// ... -- --workers MODEL.onnx [--frames 1000]: NATS JetStream workers (nats-server started here): frames/s with 1 and 2 workers, broker
//               CPU and memory, end-to-end latency p50/p99
// ... -- --runtime-check MODEL.onnx --node-modules DIR [--data DIR]: the export scored by onnxruntime-node (installed in DIR) on every
//               test image, against the product's ONNX Runtime: largest score and map differences (exit 1 beyond 1e-5 / 1e-4)
// ... -- --browser MODEL.onnx [--data DIR] [--frames 20]: images/s of the /local page (onnxruntime-web) in headless Chromium against the
// runtime
// ... -- --pipeline [--pytorch bench/reference] [--work DIR]: the whole `train` of PaDiM and PatchCore 10% as the CLI runs it, then
// the PyTorch reference PaDiM, back to back: wall, CPU, peak RSS, AUROC, stages
// ... -- --fit-profile [--images N] [--size 256]: a PaDiM fit layer by layer (decode, backbone, Gaussian), and the Gaussian alone
// ... -- --metrics [--images 582] [--size 256] [--threads 2]: seconds of the pixel metrics' sort and walks on seeded synthetic maps and
// masks
//        ... -- --gemm [--threads 2]: sustained float32 and u8×s8 GEMM rate (GMAC/s) of ONNX Runtime on this CPU
// ... -- --search 64x3,64x3x96x2 [--accuracy]: PatchCore's inverted-file search (lists x probes [x reduced dims x re-rank]) against exact
// search: recall, distance error, images/s
//        ... -- --training [--epochs 3] [--quick]: seconds per epoch of the trained models, features cached vs recomputed
//        ... -- --burst MODEL.onnx: a hostile upload burst against `serve` (server memory before, at peak, after)
//        ... -- --fuzz SECONDS [--model MODEL.onnx|model.anomalysharp]: CsCheck fuzzing of image decode, multipart upload and model load
// ... -- --busy N [--only padim,patchcore,predict,serve] [--pytorch bench/reference/padim_torch.py] [--repeat R] [--modes short-spin,spin]:
// each command quiet
//               and beside N busy-loop processes, by default and with ANOMALYSHARP_SPIN=1; wall, CPU, slowdown
// Every figure comes from this one run on this machine; ratios compare rows measured side by side.
string data = "../shared/data/magnetic_tile";
int threads = Environment.ProcessorCount;
bool quick = false, deploy = false, load = false, training = false;
string? burst = null;
double fuzzSeconds = 0;
string? fuzzModel = null;
int epochs = 3;
int busy = 0, repeat = 1;
var only = new HashSet<string> { "padim", "patchcore", "predict", "serve" };
string? pytorchScript = null;
string[] modes = { "short-spin", "spin" };
List<(int, int, int, int)>? searchGrid = null;
bool gemm = false, reuse = false, metrics = false, fitProfile = false, pipeline = false;
int metricImages = 582, metricSize = 256;
string? work = null, deployOne = null, workersModel = null;
int frames = 1000;
string? runtimeCheck = null, nodeModules = null, browserModel = null;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--fit-profile") fitProfile = true;
    else if (args[i] == "--pipeline") pipeline = true;
    else if (args[i] == "--data") data = args[++i];
    else if (args[i] == "--threads") threads = int.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--quick") quick = true;
    else if (args[i] == "--no-patchcore") { }
    else if (args[i] == "--deploy") deploy = true;   // only the export/deploy figures and the load test
    else if (args[i] == "--load") load = true;       // with --deploy: also the HTTP load test
    else if (args[i] == "--training") training = true; // only the training-speed figures of the trained models
    else if (args[i] == "--epochs") epochs = int.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--burst") burst = args[++i];
    else if (args[i] == "--fuzz") fuzzSeconds = double.Parse(args[++i], CultureInfo.InvariantCulture); // seconds per parser
    // with --fuzz: also the model loader (export or package) on this file  // MODEL.onnx: hostile-upload burst against `serve`, memory
    // figures
    else if (args[i] == "--model") fuzzModel = args[++i];
    else if (args[i] == "--busy") busy = int.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--repeat") repeat = int.Parse(args[++i], CultureInfo.InvariantCulture); // with --busy: runs per figure (median)
    else if (args[i] == "--modes") modes = args[++i].Split(','); // with --busy: short-spin (default behaviour), spin (ANOMALYSHARP_SPIN=1)
    else if (args[i] == "--only") only = args[++i].Split(',').ToHashSet();
    else if (args[i] == "--pytorch") pytorchScript = args[++i];
    else if (args[i] == "--gemm") gemm = true;
    else if (args[i] == "--metrics") metrics = true;   // pixel metrics at 582 x 256² (--images N, --size S)
    else if (args[i] == "--images") metricImages = int.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--size") metricSize = int.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--runtime-check") runtimeCheck = args[++i];
    else if (args[i] == "--browser") browserModel = args[++i];
    else if (args[i] == "--node-modules") nodeModules = args[++i];   // this CPU's sustained float32 and INT8 GEMM rate in ONNX Runtime
    else if (args[i] == "--work") work = args[++i];      // with --deploy: where the trained models and exported files go
    else if (args[i] == "--reuse") reuse = true;         // with --deploy: keep a finished `train` output found in WORK/MODEL
    else if (args[i] == "--workers") workersModel = args[++i];   // MODEL.onnx: scale-out on NATS JetStream
    else if (args[i] == "--frames") frames = int.Parse(args[++i], CultureInfo.InvariantCulture); // with --workers
    else if (args[i] == "--deploy-one") deployOne = args[++i]; // internal: the child that measures one exported file
    else if (args[i] == "--accuracy") { }   // with --search: image/pixel AUROC and AUPRO of every search on the whole test set
    else if (args[i] == "--search") searchGrid = args[++i].Split(',').Select(c => c.Split('x').Select(v => int.Parse(v,
        CultureInfo.InvariantCulture)).ToArray())
        .Select(c => (c[0], c[1], c.Length > 2 ? c[2] : 0, c.Length > 3 ? c[3] : 2)).ToList();
    else { Console.Error.WriteLine($"error: unknown option {args[i]}"); return 2; }
}
if (busy > 0) return await AnomalySharp.Bench.ContentionBench.Run(data, busy, threads, only, pytorchScript != null, pytorchScript,
    repeat, modes);
if (browserModel != null) return await AnomalySharp.Bench.BrowserBench.Run(browserModel, data, frames == 1000 ? 20 : frames);
if (runtimeCheck != null) return AnomalySharp.Bench.RuntimeCheck.Run(runtimeCheck, data,
    nodeModules ?? throw new ArgumentException("--runtime-check needs --node-modules"));
if (deployOne != null) return DeployBench.MeasureOne(deployOne, data, threads);
if (workersModel != null) return await AnomalySharp.Bench.WorkersBench.Run(workersModel, data, threads, frames);
if (burst != null) return await AnomalySharp.Bench.BurstBench.Run(burst, threads);
if (fuzzSeconds > 0) return AnomalySharp.Bench.FuzzBench.Run(data, fuzzSeconds, fuzzModel);
if (metrics) return AnomalySharp.Bench.MetricsBench.Run(threads, metricImages, metricSize);
if (pipeline) return AnomalySharp.Bench.PipelineBench.Run(data, threads, pytorchScript, work);
if (fitProfile)
{
    AnomalySharp.Bench.FitProfileBench.Run(data, threads, metricSize, metricImages == 582 ? int.MaxValue : metricImages);
    return 0;
}
set_num_threads(threads);
const double PyTorchReferenceImagesPerSecond = 14.9; // PaDiM predict incl. decode, same data, 2 threads (issue #2)
var ds = new MvtecDataset(data);
if (gemm)
{
    Console.WriteLine($"# AnomalySharp GEMM bench — {Environment.ProcessorCount} cores, {threads} threads");
    GemmBench.Run(threads);
    return 0;
}
if (searchGrid != null)
{
    Console.WriteLine($"# AnomalySharp PatchCore search bench — {Environment.ProcessorCount} cores, {threads} threads, {data}, 256 px");
    SearchBench.Run(ds, threads, searchGrid, Path.Combine(Path.GetTempPath(),
        $"anomalysharp-bench-bank-{Path.GetFileName(Path.GetFullPath(data))}.anomalysharp"), args.Contains("--accuracy"));
    return 0;
}
if (training)
{
    int images = quick ? 100 : ds.Train.Count;
    Console.WriteLine($"# AnomalySharp training bench — {Environment.ProcessorCount} cores, {threads} threads, {data}: {images} train "
        + $"images, 256 px, batch 16");
    TrainingBench.Run(ds, threads, epochs, images);
    return 0;
}
if (deploy)
{
    Console.WriteLine($"# AnomalySharp deploy bench — {Environment.ProcessorCount} cores, {threads} threads, {data}: {ds.Train.Count} "
        + $"train, {ds.Test.Count} test images, 256 px");
    work ??= Path.Combine(Path.GetTempPath(), "anomalysharp-bench-deploy");
    var models = args.Contains("--only") ? only : DeployBench.Models.ToHashSet();
    string padimOnnx = DeployBench.Run(ds, data, threads, quick, work, reuse, models, args.Contains("--epochs") ? epochs : null,
        pytorchScript != null && File.Exists(pytorchScript) ? Path.GetDirectoryName(Path.GetFullPath(pytorchScript)) : pytorchScript);
    if (load && File.Exists(padimOnnx)) await LoadBench.Run(padimOnnx, ds, clients: 4, requests: quick ? 100 : 400, sessions: 2);
    return 0;
}
var train = quick ? ds.Train.Take(100).ToList() : ds.Train.ToList();
var test = quick ? ds.Test.Take(100).ToList() : ds.Test.ToList();
Console.WriteLine($"# AnomalySharp bench — {Environment.ProcessorCount} cores, {threads} threads, {data}: {train.Count} train, "
    + $"{test.Count} test images, 256 px");
Console.WriteLine();

// 1. Fit (first, so the process peak is the fit's own).
var config = ModelRegistry.Defaults("padim");
config.Set($"runtime.threads={threads}");
var batcher = new Batcher(256, 16);
var clock = Stopwatch.StartNew();
using var model = ModelRegistry.Create(config);
model.Fit(new FitData(train.Count, () => batcher.Enumerate(train, false)), NullProgress.Instance);
double fitSeconds = clock.Elapsed.TotalSeconds;
double fitPeak = MemoryMonitor.PeakResidentMb();
Console.WriteLine($"| step | figure |\n|---|---|");
Console.WriteLine($"| PaDiM fit, {train.Count} images | {fitSeconds:0.0} s ({train.Count / fitSeconds:0.0} images/s) |");
Console.WriteLine($"| peak resident memory after fit | {fitPeak:0} MiB |");

// 2. Evaluate: decode + the inference graph in ONNX Runtime + normalization, as train and test score.
var stats = new NormalizationStats(20, 15, 0, 40, 0, 40);
double Evaluate(IAnomalyModel m)
{
    using var graph = new InferenceGraph(m, 256, threads);
    var sw = Stopwatch.StartNew();
    foreach (var b in batcher.Enumerate(test, false))
        using (b)
        {
            var (maps, scores) = graph.Run(b.Images);
            using (maps) using (scores)
            {
                MinMaxNormalizer.NormalizeMaps(maps.data<float>().ToArray(), stats);
                MinMaxNormalizer.NormalizeScores(scores.data<float>().ToArray(), stats);
            }
        }
    return test.Count / sw.Elapsed.TotalSeconds;
}
double ort = Evaluate(model);
Console.WriteLine($"| PaDiM evaluate (decode+graph+normalize), ONNX Runtime | {ort:0.0} images/s "
    + $"({ort / PyTorchReferenceImagesPerSecond:0.00}x the PyTorch reference's 14.9) |");

// 3. Hot paths on a fixed real batch of 16.
using var batch = batcher.Enumerate(test.Take(16).ToList(), false).First();
double Rate(Action a, int reps = 3)
{
    a();
    var sw = Stopwatch.StartNew();
    for (int r = 0; r < reps; r++) a();
    return 16 * reps / sw.Elapsed.TotalSeconds;
}
string[] layers = { "layer1", "layer2", "layer3" };
var ortBackbone = BackboneFactory.Resnet18(BackboneEngine.Onnxruntime, threads);
double bOrt = Rate(() => { using var s = NewDisposeScope(); ortBackbone.Extract(batch.Images, layers); });
double bTorch = Rate(() => { using var s = NewDisposeScope(); PretrainedResNet18.Instance.Extract(batch.Images, layers); });
Console.WriteLine($"| ResNet18 layers 1-3, batch 16, ONNX Runtime | {bOrt:0.0} images/s |");
Console.WriteLine($"| ResNet18 layers 1-3, batch 16, TorchSharp | {bTorch:0.0} images/s (ratio {bOrt / bTorch:0.00}) |");
var decodeFiles = test.Take(64).Select(s => s.ImagePath).ToList();
var sw2 = Stopwatch.StartNew();
foreach (var f in decodeFiles) ImageIO.ToTensor(ImageIO.Decode(f), 256).Dispose();
Console.WriteLine($"| decode + resize to 256 (one thread) | {decodeFiles.Count / sw2.Elapsed.TotalSeconds:0} images/s |");
if (!args.Contains("--no-patchcore")) PatchCoreBench.Run(ds, threads, quick);
return 0;
