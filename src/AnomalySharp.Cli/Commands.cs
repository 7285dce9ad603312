using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.Json.Nodes;
using AnomalySharp.Configuration;
using AnomalySharp.Data;
using AnomalySharp.Engine;
using AnomalySharp.Models;
using Spectre.Console;
using AnomalySharp.IO;

namespace AnomalySharp.Cli;

/// <summary>The `anomalysharp` command line: train, test, predict.</summary>
internal sealed partial class Commands
{
    readonly RootCommand _root = new("AnomalySharp: unsupervised visual anomaly detection and localization (PaDiM, PatchCore, ...) on the CPU, offline.");

    static readonly Option<string[]> PluginOption = new("--plugin")
    {
        Description = $"load models from a plugin assembly (repeatable; also {PluginLoader.Variable})",
        Recursive = true,
    };

    /// <summary>Loads plugins named by the environment and by --plugin before the commands are built.</summary>
    public static Commands Build(string[] args)
    {
        PluginLoader.LoadFromEnvironment();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--plugin" && i + 1 < args.Length) PluginLoader.Load(new[] { args[i + 1] });
            else if (args[i].StartsWith("--plugin=", StringComparison.Ordinal)) PluginLoader.Load(new[] { args[i][9..] });
        }
        var c = new Commands();
        c._root.Options.Add(PluginOption);
        c._root.Subcommands.Add(c.TrainCommand());
        c._root.Subcommands.Add(c.UpdateCommand());
        c._root.Subcommands.Add(c.TestCommand());
        c._root.Subcommands.Add(c.PredictCommand());
        c._root.Subcommands.Add(c.ExportCommand());
        c._root.Subcommands.Add(c.ServeCommand());
        c._root.Subcommands.Add(WorkerCommands.Worker());
        c._root.Subcommands.Add(WorkerCommands.Publish());
        c._root.Subcommands.Add(WorkerCommands.Results());
        c._root.Subcommands.Add(GridCommands.Benchmark());
        c._root.Subcommands.Add(GridCommands.BenchmarkCell());
        c._root.Subcommands.Add(GridCommands.Hpo());
        return c;
    }

    /// <summary>Parses and runs; a parse error or a user error is one line on stderr and exit code 2.</summary>
    public int Run(string[] args)
    {
        var parsed = _root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            Console.Error.WriteLine("error: " + ParseErrors.Explain(parsed.Errors[0].Message) + " (see --help)");
            return 2;
        }
        return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
    }

    static Option<string?> Opt(string name, string description) => new(name) { Description = description };
    static Option<bool> Flag(string name, string description) => new(name) { Description = description };

    /// <summary>Keys a resumed run may change: how long it trains and how it reports, never what it learns.</summary>
    static readonly string[] ResumableKeys = { "training.max_epochs", "training.validate_every", "training.patience", "visualization.save_images" };

    Command TrainCommand()
    {
        var model = Opt("--model", $"model to fit: {string.Join(", ", ModelRegistry.Names)} (default padim, or the config file's model.name)");
        var data = Opt("--data", "dataset root in the MVTec AD layout (train/good, test/<type>, ground_truth/<type>); default: the built-in synthetic dataset");
        var normal = Opt("--normal-dir", "Folder layout: folder of good images, enough on its own (optional --abnormal-dir, --mask-dir)");
        var abnormal = Opt("--abnormal-dir", "Folder layout: folder of abnormal images (optional: used for metrics only)");
        var masks = Opt("--mask-dir", "Folder layout: folder of masks for the abnormal images");
        var synthetic = Opt("--synthetic", "kind of built-in synthetic data when no --data is given: texture (default) or object");
        var config = Opt("--config", "YAML configuration (see configs/); keys not given keep their defaults");
        var set = new Option<string[]>("--set") { Description = "override a config key: --set model.n_features=50 (repeatable)", AllowMultipleArgumentsPerToken = false };
        var output = Opt("--output", "output folder (default runs/<model>-<time>)");
        var seed = new Option<int?>("--seed") { Description = "random seed (default 42)" };
        var threads = new Option<int?>("--threads") { Description = "compute threads (default: all cores)" };
        var overwrite = Flag("--overwrite", "replace the output folder if it exists");
        var skipBad = Flag("--skip-bad-images", "skip unreadable images with a warning instead of stopping");
        var resume = Opt("--resume", "trained models: continue an interrupted run from its checkpoint (OUTPUT.training/last.ckpt); its configuration, dataset and output are reused (--set may change training.max_epochs, validate_every, patience)");
        var cmd = new Command("train", "fit a model on normal images, evaluate it, save it and write a report")
            { model, data, normal, abnormal, masks, synthetic, config, set, output, seed, threads, overwrite, skipBad, resume };
        cmd.SetAction(p =>
        {
            string? resumePath = p.GetValue(resume);
            ConfigTree tree;
            IAnomalyDataset dataset;
            string? outDir = p.GetValue(output);
            if (resumePath != null)
            {
                if (p.GetValue(model) != null || p.GetValue(config) != null || p.GetValue(seed) != null || p.GetValue(synthetic) != null)
                    throw new AnomalySharpException("--resume continues with the checkpoint's configuration: drop --model, --config, --seed and --synthetic");
                var header = Training.Checkpoint.ReadHeader(resumePath);
                tree = ConfigTree.FromYaml(header.ConfigYaml, resumePath);
                foreach (string s in p.GetValue(set) ?? Array.Empty<string>())
                {
                    if (!ResumableKeys.Any(k => s.StartsWith(k + "=", StringComparison.Ordinal)))
                        throw new AnomalySharpException($"--set {s}: with --resume only {string.Join(", ", ResumableKeys)} can change");
                    tree.Set(s);
                }
                if (p.GetValue(threads) is { } t) tree.Set($"runtime.threads={t.ToString(CultureInfo.InvariantCulture)}");
                bool dataGiven = (p.GetValue(data) ?? p.GetValue(normal) ?? p.GetValue(abnormal) ?? p.GetValue(masks)) != null;
                dataset = dataGiven ? ResolveDataset(p.GetValue(data), p.GetValue(normal), p.GetValue(abnormal), p.GetValue(masks), null, tree.GetInt("seed"))
                    : header.DatasetRoot != null && Directory.Exists(header.DatasetRoot) ? new MvtecDataset(header.DatasetRoot)
                    : throw new AnomalySharpException($"{resumePath}: the checkpoint's dataset ({header.DatasetDescription}) is not here; give --data or the Folder options");
                outDir ??= header.Output ?? throw new AnomalySharpException($"{resumePath}: no output folder recorded; give --output");
            }
            else
            {
                tree = ResolveConfig(p.GetValue(model), p.GetValue(config), p.GetValue(set) ?? Array.Empty<string>(),
                    p.GetValue(seed), p.GetValue(threads), p.GetValue(skipBad));
                dataset = ResolveDataset(p.GetValue(data), p.GetValue(normal), p.GetValue(abnormal), p.GetValue(masks), p.GetValue(synthetic), tree.GetInt("seed"));
            }
            string name = tree.GetString("model.name");
            outDir ??= Path.Combine("runs", $"{name}-{DateTime.Now:yyyyMMdd-HHmmss}");
            OutputGuard.CheckNotInput(outDir, "output", new OutputGuard.Input(p.GetValue(config), "config file"));
            Console.Error.WriteLine($"train {name} on {dataset.Description}: {dataset.Train.Count} training, {dataset.Test.Count} test images");

            // Ctrl-C or SIGTERM (see Shutdown): a trained model saves a checkpoint after the current batch.
            var results = new ConsoleProgress().Run(r => new AnomalyEngine(r, Shutdown.Token).Train(tree, dataset, outDir, p.GetValue(overwrite), resumePath, Shutdown.Token));
            PrintResults(results, Path.GetFullPath(outDir));
            return 0;
        });
        return cmd;
    }

    Command TestCommand()
    {
        var modelPath = new Option<string>("--model-path") { Description = "a training output folder or its model.anomalysharp file", Required = true };
        var data = Opt("--data", "dataset root (MVTec layout); default: the dataset recorded in the model");
        var output = new Option<string>("--output") { Description = "output folder for results.json, images and report.html", Required = true };
        var overwrite = Flag("--overwrite", "replace the output folder if it exists");
        var skipBad = Flag("--skip-bad-images", "skip unreadable images with a warning instead of stopping");
        var cmd = new Command("test", "re-evaluate a saved model with its saved thresholds") { modelPath, data, output, overwrite, skipBad };
        cmd.SetAction(p =>
        {
            string? d = p.GetValue(data);
            var dataset = d == null ? null : new MvtecDataset(d);
            var results = new ConsoleProgress().Run(r => new AnomalyEngine(r, Shutdown.Token).Test(p.GetValue(modelPath)!, dataset, p.GetValue(output)!, p.GetValue(overwrite), p.GetValue(skipBad)));
            PrintResults(results, Path.GetFullPath(p.GetValue(output)!));
            return 0;
        });
        return cmd;
    }

    Command PredictCommand()
    {
        var modelPath = new Option<string>("--model-path") { Description = "a training output folder, its model.anomalysharp file, or an exported .onnx model (runs without TorchSharp)", Required = true };
        var input = Opt("--input", "an image file or a folder of images");
        var output = new Option<string>("--output") { Description = "output folder: heatmaps/, masks/, predictions.jsonl", Required = true };
        var watch = Opt("--watch", "score every new image that appears in this folder, writing as it goes, until Ctrl-C");
        var batch = new Option<int?>("--batch-size") { Description = "images per batch (default: 16 for an .onnx model, the config's data.batch_size for a saved model; 1 for --watch)" };
        var threads = new Option<int?>("--threads") { Description = "compute threads (default: all cores, or a saved model's runtime.threads)" };
        var overwrite = Flag("--overwrite", "replace the output folder if it exists");
        var skipBad = Flag("--skip-bad-images", "skip unreadable images with a warning instead of stopping");
        var cmd = new Command("predict", "score images with a saved or exported model: heat maps, masks and one JSON line per image")
            { modelPath, input, output, watch, batch, threads, overwrite, skipBad };
        cmd.SetAction(p =>
        {
            string model = p.GetValue(modelPath)!, outDir = p.GetValue(output)!;
            string? inPath = p.GetValue(input), watchDir = p.GetValue(watch);
            if ((inPath == null) == (watchDir == null)) throw new AnomalySharpException("predict needs exactly one of --input (file or folder) and --watch (folder)");
            // Unset, a saved model uses its config's data.batch_size and runtime.threads (see Predictor).
            int? batchSize = p.GetValue(batch) ?? (watchDir != null ? 1 : null);
            if (batchSize is < 1 or > 1024) throw new AnomalySharpException($"--batch-size must be 1..1024, got {batchSize}");
            if (p.GetValue(threads) is < 0) throw new AnomalySharpException($"--threads must be positive, got {p.GetValue(threads)}");
            var progress = new ConsoleProgress();
            if (inPath != null) AnomalyEngine.ListPredictInputs(inPath); // a missing input is named before the model is loaded
            using var predictor = new Predictor(model, batchSize, p.GetValue(threads), p.GetValue(skipBad), progress, Shutdown.Token);
            if (watchDir != null)
            {
                // Watching ends with Ctrl-C or SIGTERM by design: every image seen so far is written, exit 0.
                int n = predictor.Watch(watchDir, outDir, Shutdown.Token, TimeSpan.FromMilliseconds(200));
                Console.WriteLine($"stopped watching: {n} images -> {Path.GetFullPath(outDir)}");
                return 0;
            }
            var (count, secs) = progress.Run(_ => predictor.Run(inPath!, outDir, p.GetValue(overwrite)));
            Console.WriteLine(FormattableString.Invariant($"predicted {count} images in {secs:0.0} s ({count / secs:0.0} images/s, onnxruntime, batch {predictor.BatchSize}) -> {Path.GetFullPath(outDir)}"));
            return 0;
        });
        return cmd;
    }

    Command ExportCommand()
    {
        var modelPath = new Option<string>("--model-path") { Description = "a training output folder or its model.anomalysharp file", Required = true };
        var format = Opt("--format", "onnx (one .onnx file, default) or triton (a Triton Inference Server model repository)");
        var output = new Option<string>("--output") { Description = "the .onnx file to write (onnx), or the repository folder (triton)", Required = true };
        var int8 = Flag("--int8", "quantize the backbone to INT8 (static, calibrated on normal images)");
        var calibration = Opt("--calibration", "with --int8: folder of normal images to calibrate on (default: the model's training images)");
        var name = Opt("--name", "triton: the model's name in the repository (default anomalysharp_<model>)");
        var overwrite = Flag("--overwrite", "replace the output if it exists");
        var runtime = Opt("--runtime", "the oldest ONNX Runtime release the file must run in, e.g. 1.16; an export that needs more is refused");
        var cmd = new Command("export", "export a saved model to ONNX (image [N,3,S,S] RGB 0..1 -> anomaly_map, score; normalized) or a Triton repository")
            { modelPath, format, output, int8, calibration, name, overwrite, runtime };
        cmd.SetAction(p =>
        {
            Runtime.RuntimeRequirement? needs = null;
            string written = new ConsoleProgress().Run(r =>
            {
                var exporter = new ModelExporter(r, Shutdown.Token);
                string path = exporter.Export(p.GetValue(modelPath)!, p.GetValue(format) ?? "onnx", p.GetValue(output)!, p.GetValue(int8),
                    p.GetValue(calibration), p.GetValue(overwrite), p.GetValue(name), runtime: p.GetValue(runtime));
                needs = exporter.Requirement;
                return path;
            });
            long bytes = File.Exists(written) ? new FileInfo(written).Length : new FileInfo(Path.Combine(written, "1", "model.onnx")).Length;
            Console.WriteLine(FormattableString.Invariant($"exported {(p.GetValue(int8) ? "int8" : "float32")} model ({bytes / 1048576.0:0.0} MB) -> {written}"));
            if (needs != null) Console.WriteLine($"runs in {needs.Describe()}");
            return 0;
        });
        return cmd;
    }

    Command ServeCommand()
    {
        var model = new Option<string>("--model") { Description = "an exported .onnx model (anomalysharp export)", Required = true };
        var host = Opt("--host", "address to bind (default 127.0.0.1, loopback only; 0.0.0.0 for every interface)");
        var port = new Option<int?>("--port") { Description = "port (default 8080; 0 = any free port)" };
        var sessions = new Option<int?>("--sessions") { Description = "ONNX Runtime sessions serving requests concurrently (default 2, at most the cores)" };
        var threads = new Option<int?>("--threads") { Description = "threads per session (default: cores / sessions, so sessions x threads <= cores)" };
        var maxMb = new Option<double?>("--max-request-mb") { Description = "largest accepted request body in MB (default 20)" };
        var queue = new Option<int?>("--queue") { Description = "requests that may wait for a session; more get 503 with Retry-After (default 64)" };
        var uploads = new Option<int?>("--uploads") { Description = "request bodies read at once, before a session is taken; more get 503 (default 32)" };
        var minRate = new Option<double?>("--min-upload-kbps") { Description = "slowest accepted upload in KiB/s after a 5 s grace; slower clients are cut off (default 16)" };
        var bodyTimeout = new Option<double?>("--body-timeout") { Description = "seconds a request body may take to arrive (default 30)" };
        var cmd = new Command("serve", "serve an exported model over HTTP: POST /predict, GET /health, and a web page at /") { model, host, port, sessions, threads, maxMb, queue, uploads, minRate, bodyTimeout };
        cmd.SetAction(p =>
        {
            string path = p.GetValue(model)!;
            if (!path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase)) throw new AnomalySharpException($"--model {path}: serve needs an exported .onnx model (anomalysharp export --format onnx)");
            int s = p.GetValue(sessions) ?? Serving.ServerOptions.DefaultSessions, t = p.GetValue(threads) ?? 0;
            double mb = p.GetValue(maxMb) ?? 20;
            if (s is < 1 or > 64) throw new AnomalySharpException($"--sessions must be 1..64, got {s}");
            if (t < 0) throw new AnomalySharpException($"--threads must be positive, got {t}");
            if (!(mb > 0)) throw new AnomalySharpException($"--max-request-mb must be positive, got {mb}");
            int q = p.GetValue(queue) ?? 64;
            if (q is < 0 or > 100_000) throw new AnomalySharpException($"--queue must be 0..100000, got {q}");
            int u = p.GetValue(uploads) ?? 32;
            if (u is < 1 or > 10_000) throw new AnomalySharpException($"--uploads must be 1..10000, got {u}");
            double kbps = p.GetValue(minRate) ?? 16, timeout = p.GetValue(bodyTimeout) ?? 30;
            if (!(kbps > 0) || double.IsInfinity(kbps)) throw new AnomalySharpException($"--min-upload-kbps must be positive, got {kbps}");
            if (!(timeout > 0) || timeout > 86_400) throw new AnomalySharpException($"--body-timeout must be 0..86400 seconds, got {timeout}");
            var options = new Serving.ServerOptions
            {
                ModelPath = path, Host = p.GetValue(host) ?? "127.0.0.1", Port = p.GetValue(port) ?? 8080,
                Sessions = s, ThreadsPerSession = t, MaxRequestBytes = (long)(mb * 1048576), QueueLength = q,
                Uploads = u, MinUploadBytesPerSecond = kbps * 1024, BodyTimeout = TimeSpan.FromSeconds(timeout),
            };
            using var cancel = new CancellationTokenSource();
            // Ctrl-C and SIGTERM reach the web host's lifetime, which ends WaitAsync.
            Serving.AnomalyServer server;
            try { server = Serving.AnomalyServer.StartAsync(options).GetAwaiter().GetResult(); }
            catch (ArgumentException e) { throw new AnomalySharpException(e.Message, e); }
            if (server.ThreadWarning != null) Console.Error.WriteLine("warning: " + server.ThreadWarning);
            Console.WriteLine($"serving {server.Detector.ModelName} ({server.Detector.ImageHeight}x{server.Detector.ImageWidth} px, {s} sessions x {server.ThreadsPerSession} threads) on {server.Address} (Ctrl-C to stop)");
            server.WaitAsync(cancel.Token).GetAwaiter().GetResult();
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            Console.WriteLine("stopped");
            return 0;
        });
        return cmd;
    }

    /// <summary>Defaults of the model, then the YAML file, then --seed/--threads/--skip-bad-images, then --set.</summary>
    internal static ConfigTree ResolveConfig(string? model, string? configFile, IReadOnlyList<string> sets, int? seed, int? threads, bool skipBad)
    {
        ConfigTree? file = configFile == null ? null : ConfigTree.FromFile(configFile);
        string name = model ?? (file != null && file.Has("model.name") ? file.GetString("model.name") : "padim");
        var tree = ModelRegistry.Defaults(name);
        if (file != null)
        {
            if (file.Has("model.name") && file.GetString("model.name") != name)
                throw new AnomalySharpException($"{configFile}: model.name is '{file.GetString("model.name")}' but --model is '{name}'");
            tree.Merge(file, configFile!);
        }
        if (seed != null) tree.Set($"seed={seed.Value.ToString(CultureInfo.InvariantCulture)}");
        if (threads != null) tree.Set($"runtime.threads={threads.Value.ToString(CultureInfo.InvariantCulture)}");
        if (skipBad) tree.Set("data.skip_bad_images=true");
        foreach (string s in sets)
        {
            if (s.StartsWith("model.name=", StringComparison.Ordinal)) throw new AnomalySharpException("--set model.name is not allowed; use --model");
            tree.Set(s);
        }
        return tree;
    }

    internal static IAnomalyDataset ResolveDataset(string? data, string? normal, string? abnormal, string? masks, string? synthetic, int seed)
    {
        if (data != null && (normal ?? abnormal ?? masks) != null)
            throw new AnomalySharpException("--data (MVTec layout) and --normal-dir/--abnormal-dir (Folder layout) exclude each other");
        if (data != null) return new MvtecDataset(data);
        if (normal != null || abnormal != null)
        {
            if (normal == null) throw new AnomalySharpException("--abnormal-dir needs --normal-dir (the good images to fit on)");
            if (masks != null && abnormal == null) throw new AnomalySharpException("--mask-dir needs --abnormal-dir (the images its masks mark)");
            return new FolderDataset(normal, abnormal, masks, seed: seed);
        }
        if (masks != null) throw new AnomalySharpException("--mask-dir needs --normal-dir and --abnormal-dir");
        var options = new SyntheticDataset.Options(Kind: synthetic ?? "texture", Seed: seed);
        return SyntheticDataset.Create(SyntheticDataset.DefaultRoot(options), options);
    }

    internal static void PrintResults(RunResults run, string outDir)
    {
        var results = run.ToJson();
        string[] keys = { "image_auroc", "image_f1max", "image_f1_at_threshold", "false_alarm_rate_at_threshold", "pixel_auroc", "pixel_f1max", "aupro", "aupro_small",
            "fit_seconds", "predict_images_per_second", "peak_memory_mb", "n_train", "n_validation", "n_test" };
        var table = new Table().AddColumn("metric").AddColumn("value");
        foreach (string k in keys)
            if (results.ContainsKey(k)) table.AddRow(k, Markup.Escape(results[k]?.ToJsonString() ?? "null"));
        AnsiConsole.Write(table);
        if (run.Update?["mode"] is { } mode) Console.WriteLine($"update: {run.Update["new_fitted"]} new images fitted, {run.Update["new_calibration"]} held out for calibration; {mode}");
        if (run.Threshold != null) Console.WriteLine("threshold: " + run.Threshold.Statement);
        Console.WriteLine($"results: {Path.Combine(outDir, "results.json")}  report: {Path.Combine(outDir, "report.html")}");
    }
}
