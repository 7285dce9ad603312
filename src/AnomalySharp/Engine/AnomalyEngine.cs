using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using AnomalySharp.Configuration;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Export;
using AnomalySharp.Metrics;
using AnomalySharp.Models;
using AnomalySharp.PostProcessing;
using AnomalySharp.Training;
using AnomalySharp.Visualization;
using static TorchSharp.torch;

namespace AnomalySharp.Engine;

/// <summary>
/// The verbs: <see cref="Train"/> (fit, calibrate, evaluate, save, report), <see cref="Test"/> (re-evaluate a
/// saved model) and <see cref="Predict"/> (score new images). Every verb writes its output folder atomically.
/// </summary>
public sealed class AnomalyEngine
{
    readonly IProgressReporter _progress;
    readonly CancellationToken _cancellation;

    /// <summary>
    /// Creates an engine that reports progress to <paramref name="progress"/>. Cancelling <paramref name="cancellation"/>
    /// stops any verb at its next batch (<see cref="OperationCanceledException"/>; a trained model saves a checkpoint
    /// and throws <see cref="TrainingInterruptedException"/>), leaving no partial output.
    /// </summary>
    public AnomalyEngine(IProgressReporter? progress = null, CancellationToken cancellation = default)
    {
        _progress = progress ?? NullProgress.Instance;
        _cancellation = cancellation;
    }

    /// <summary>The folders a dataset is read from: its root (MVTec, synthetic) and every folder holding its images and masks.</summary>
    public static OutputGuard.Input[] DatasetInputs(IAnomalyDataset dataset)
    {
        var folders = dataset.Train.Concat(dataset.Test)
            .SelectMany(s => new[] { Path.GetDirectoryName(s.ImagePath), s.MaskPath == null ? null : Path.GetDirectoryName(s.MaskPath) })
            .Where(d => d != null).Distinct(StringComparer.Ordinal)
            .Select(d => new OutputGuard.Input(d, "data folder"));
        return (dataset is FolderDataset ? folders : folders.Prepend(new OutputGuard.Input(dataset.Root, "data folder"))).ToArray();
    }

    /// <summary>Fits a model and evaluates it; writes results.json, the model file, images and report.html.</summary>
    /// <remarks>
    /// A model that learns a network (<see cref="NetworkModel"/>) trains epoch by epoch with checkpoints, logs and
    /// validation in <see cref="TrainingFolder"/>; <paramref name="resume"/> continues from a checkpoint there, and
    /// cancelling <paramref name="cancellation"/> saves one and throws <see cref="TrainingInterruptedException"/>.
    /// </remarks>
    public JsonObject Train(ConfigTree config, IAnomalyDataset dataset, string output, bool overwrite, string? resume = null, CancellationToken cancellation = default)
    {
        if (!cancellation.CanBeCanceled) cancellation = _cancellation;
        var inputs = DatasetInputs(dataset);
        OutputGuard.CheckNotInput(output, "output", inputs.Append(new OutputGuard.Input(resume, "checkpoint")).ToArray());
        string trainingFolder = TrainingFolder(config, output);
        bool trains = config.Has("training");
        if (trains)
        {
            OutputGuard.CheckNotInput(trainingFolder, "training folder", inputs);
            if (resume == null && Directory.Exists(trainingFolder) && !overwrite)
                throw new AnomalySharpException($"{trainingFolder} holds checkpoints of an earlier run: continue it with --resume {Path.Combine(trainingFolder, Trainer.LastFile)}, or use --overwrite to start over");
            if (resume == null && overwrite) OutputGuard.CheckReplaceableFolder(trainingFolder, Trainer.LastFile, Trainer.BestFile, "metrics.csv");
        }
        using var staged = new StagedOutput(output, overwrite, "results.json");
        // A training folder this run creates goes again when the run fails before its first checkpoint.
        bool ownsTrainingFolder = trains && (!Directory.Exists(trainingFolder) || (overwrite && resume == null));
        using var trainingCleanup = ownsTrainingFolder ? PendingOutputs.Register(() => RemoveWithoutCheckpoint(trainingFolder)) : null;
        try
        {
            return TrainStaged(config, dataset, output, overwrite, resume, cancellation, staged, trainingFolder);
        }
        catch (OperationCanceledException) when (File.Exists(Path.Combine(trainingFolder, Trainer.LastFile)))
        {
            string last = Path.Combine(trainingFolder, Trainer.LastFile);
            throw new TrainingInterruptedException($"training interrupted: the last checkpoint is {last} (continue with --resume {last})", last);
        }
        catch when (ownsTrainingFolder)
        {
            RemoveWithoutCheckpoint(trainingFolder);
            throw;
        }
    }

    static void RemoveWithoutCheckpoint(string folder)
    {
        if (Directory.Exists(folder) && !File.Exists(Path.Combine(folder, Trainer.LastFile))) PendingOutputs.DeleteFolder(folder);
    }

    JsonObject TrainStaged(ConfigTree config, IAnomalyDataset dataset, string output, bool overwrite, string? resume, CancellationToken cancellation,
        StagedOutput staged, string trainingFolder)
    {
        int threads = RunSettings.ApplyThreads(config);
        manual_seed(config.GetInt("seed"));
        var batcher = MakeBatcher(config);
        using var model = ModelRegistry.Create(config);
        var fitData = new FitData(dataset.Train.Count, () => batcher.Enumerate(dataset.Train, loadMasks: false))
        {
            BatchSize = config.GetInt("data.batch_size"),
            Ordered = order => batcher.Enumerate(order.Select(i => dataset.Train[i]).ToList(), loadMasks: false),
        };

        var fitClock = Stopwatch.StartNew();
        TrainingSummary? training = null;
        if (model is NetworkModel network)
            training = TrainNetwork(network, config, dataset, output, trainingFolder, fitData, resume, overwrite, cancellation);
        else if (resume != null)
            throw new AnomalySharpException($"--resume applies to trained models (stfpm, fastflow, reverse_distillation), not {model.Name}");
        else
            model.Fit(fitData, _progress);
        double fitSeconds = training?.Seconds ?? fitClock.Elapsed.TotalSeconds;
        double fitPeak = MemoryMonitor.PeakResidentMb();

        using var all = Evaluate(model, dataset.Test, batcher, dataset.HasMasks, out double predictSeconds);
        var (validation, evaluation) = SplitForValidation(config, all);
        NormalizationStats stats;
        using (validation)
            stats = Calibrate(config, validation ?? evaluation);
        var trained = new TrainedModel(model, config, stats, dataset.Root); // shares `model`, disposed above
        trained.Save(Path.Combine(staged.Path, ModelPackage.FileName));
        File.WriteAllText(Path.Combine(staged.Path, "config.yaml"), config.ToYaml());

        var results = Report(trained, evaluation, staged.Path, dataset, batcher);
        results["fit_seconds"] = Round(fitSeconds);
        results["fit_peak_memory_mb"] = Round(fitPeak);
        results["predict_images_per_second"] = Round(all.Samples.Count / predictSeconds);
        results["threads"] = threads;
        results["n_train"] = dataset.Train.Count(s => !batcher.SkippedPaths.Contains(s.ImagePath));
        results["n_validation"] = validation?.Samples.Count ?? (config.GetString("postprocessing.validation") == "test" ? all.Samples.Count : 0);
        results["validation"] = config.GetString("postprocessing.validation");
        results["skipped_images"] = new JsonArray(batcher.Skipped.Select(s => (JsonNode)s).ToArray());
        if (!ReferenceEquals(evaluation, all)) evaluation.Dispose();
        results["peak_memory_mb"] = Round(MemoryMonitor.PeakResidentMb());
        if (training != null)
        {
            results["training"] = new JsonObject
            {
                ["epochs"] = training.Epochs,
                ["kept_epoch"] = training.BestEpoch,
                ["monitor"] = config.GetString("training.monitor"),
                ["best_value"] = Round(training.BestValue),
                ["stopped_early"] = training.StoppedEarly,
                ["final_loss"] = Round(training.FinalLoss),
                ["seconds"] = Round(training.Seconds),
                ["images_per_second"] = Round(training.ImagesPerSecond),
                ["features_cached"] = training.FeaturesCached,
            };
            CopyDirectory(trainingFolder, Path.Combine(staged.Path, "training"));
        }
        WriteJson(Path.Combine(staged.Path, "results.json"), results);
        staged.Commit();
        if (training != null && config.GetStringOrNull("training.checkpoint_dir") == null)
            try { Directory.Delete(trainingFolder, recursive: true); } catch (IOException) { }
        return results;
    }

    /// <summary>
    /// Where a trained model keeps its checkpoints, metrics.csv and TensorBoard events while it trains:
    /// training.checkpoint_dir, else OUTPUT.training beside the output folder (copied into OUTPUT/training at the end).
    /// </summary>
    public static string TrainingFolder(ConfigTree config, string output) =>
        (config.Has("training.checkpoint_dir") ? config.GetStringOrNull("training.checkpoint_dir") : null) is { } dir
            ? Path.GetFullPath(dir) : Path.GetFullPath(output).TrimEnd(Path.DirectorySeparatorChar) + ".training";

    TrainingSummary TrainNetwork(NetworkModel model, ConfigTree config, IAnomalyDataset dataset, string output, string folder,
        FitData fitData, string? resume, bool overwrite, CancellationToken cancellation)
    {
        if (resume != null)
        {
            var header = Checkpoint.ReadHeader(resume);
            if (header.Model != model.Name) throw new AnomalySharpException($"{resume}: checkpoint of {header.Model}, not {model.Name}");
            if (header.TrainCount != dataset.Train.Count)
                throw new AnomalySharpException($"{resume}: checkpoint was trained on {header.TrainCount} images of {header.DatasetDescription}, this dataset has {dataset.Train.Count}");
            Directory.CreateDirectory(folder);
            string from = Path.GetDirectoryName(Path.GetFullPath(resume))!;
            if (from != folder && File.Exists(Path.Combine(from, "metrics.csv")) && !File.Exists(Path.Combine(folder, "metrics.csv")))
                File.Copy(Path.Combine(from, "metrics.csv"), Path.Combine(folder, "metrics.csv"));
        }
        else if (Directory.Exists(folder) && overwrite)
            PendingOutputs.DeleteFolder(folder);

        var testSamples = dataset.Test;
        if (config.GetString("postprocessing.validation") == "holdout")
            testSamples = SplitIndices(config, dataset.Test).Validation.Select(i => dataset.Test[i]).ToList();
        var batcher = MakeBatcher(config);
        var run = new TrainingRun
        {
            Progress = _progress,
            Cancellation = cancellation,
            Folder = folder,
            ResumeFrom = resume,
            Seed = config.GetInt("seed"),
            Validate = testSamples.Count == 0 || !testSamples.Any(s => s.IsAnomalous) ? null : m => ValidationMetrics(m, testSamples, batcher, dataset.HasMasks),
            Describe = state => new Checkpoint
            {
                Model = model.Name, ConfigYaml = config.ToYaml(), DatasetDescription = dataset.Description, DatasetRoot = dataset.Root,
                TrainCount = dataset.Train.Count, Output = Path.GetFullPath(output), State = state,
            },
        };
        var summary = Trainer.Run(model, model.Options, fitData, run);
        model.Trained(summary);
        return summary;
    }

    /// <summary>Image and pixel AUROC of a model on labelled images (the trainer's validation).</summary>
    IReadOnlyDictionary<string, double> ValidationMetrics(IAnomalyModel model, IReadOnlyList<AnomalySample> samples, Batcher batcher, bool masks)
    {
        using var set = Evaluate(model, samples, batcher, masks, out _, "validate");
        using var scope = NewDisposeScope();
        var result = new Dictionary<string, double> { ["image_auroc"] = Auroc.Compute(set.Scores, set.Labels) };
        if (set.Masks is { } m)
            result["pixel_auroc"] = Auroc.Compute(set.Maps.flatten(), m.flatten().to_type(ScalarType.Float32));
        return result;
    }

    static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from))
            if (!file.EndsWith(".tmp", StringComparison.Ordinal)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }

    /// <summary>Re-evaluates a saved model with its saved thresholds on a dataset (by default the one it was trained on).</summary>
    public JsonObject Test(string modelPath, IAnomalyDataset? dataset, string output, bool overwrite, bool skipBadImages = false)
    {
        OutputGuard.CheckNotInput(output, "output", new OutputGuard.Input(modelPath, "model"));
        using var trained = TrainedModel.Load(modelPath);
        dataset ??= trained.DatasetRoot is { } root && Directory.Exists(Path.Combine(root, "train", "good")) ? new MvtecDataset(root)
            : throw new AnomalySharpException($"{modelPath}: the dataset recorded in the model ({trained.DatasetRoot ?? "none"}) is not an MVTec-layout folder here; give --data");
        OutputGuard.CheckNotInput(output, "output", DatasetInputs(dataset));
        using var staged = new StagedOutput(output, overwrite, "results.json");
        int threads = RunSettings.ApplyThreads(trained.Config);
        var batcher = MakeBatcher(trained.Config, skipBadImages);
        using var all = Evaluate(trained.Model, dataset.Test, batcher, dataset.HasMasks, out double predictSeconds);
        var results = Report(trained, all, staged.Path, dataset, batcher);
        results["fit_seconds"] = null;
        results["predict_images_per_second"] = Round(all.Samples.Count / predictSeconds);
        results["threads"] = threads;
        results["n_train"] = dataset.Train.Count;
        results["skipped_images"] = new JsonArray(batcher.Skipped.Select(s => (JsonNode)s).ToArray());
        results["peak_memory_mb"] = Round(MemoryMonitor.PeakResidentMb());
        WriteJson(Path.Combine(staged.Path, "results.json"), results);
        staged.Commit();
        return results;
    }

    /// <summary>
    /// Scores a file or every image in a folder, streaming in batches: writes heatmaps/NAME.png (the heat map over
    /// the resized image), masks/NAME_mask.png (at the original size) and one JSON line per image in
    /// predictions.jsonl. Returns (images, seconds).
    /// </summary>
    public (int Images, double Seconds) Predict(string modelPath, string input, string output, bool overwrite, bool skipBadImages = false)
    {
        var files = ListPredictInputs(input);
        OutputGuard.CheckNotInput(output, "output", new OutputGuard.Input(modelPath, "model"), new OutputGuard.Input(input, "input"));
        using var trained = TrainedModel.Load(modelPath);
        using var staged = new StagedOutput(output, overwrite, "predictions.jsonl");
        RunSettings.ApplyThreads(trained.Config);
        var batcher = MakeBatcher(trained.Config, skipBadImages);
        Directory.CreateDirectory(Path.Combine(staged.Path, "heatmaps"));
        Directory.CreateDirectory(Path.Combine(staged.Path, "masks"));
        var clock = Stopwatch.StartNew();
        int done = 0;
        using (var lines = new StreamWriter(Path.Combine(staged.Path, "predictions.jsonl")))
        using (var step = _progress.Start("predict", files.Count))
        {
            var samples = files.Select(f => new AnomalySample(f, false, "unknown", null)).ToList();
            foreach (var batch in batcher.Enumerate(samples, loadMasks: false))
            {
                using (batch)
                using (var scope = NewDisposeScope())
                {
                    var (maps, scores) = trained.PredictNormalized(batch.Images);
                    var scoreValues = scores.data<float>().ToArray();
                    for (int i = 0; i < batch.Samples.Count; i++)
                    {
                        string stem = Path.GetFileNameWithoutExtension(batch.Samples[i].ImagePath);
                        var (w, h) = batch.OriginalSizes[i];
                        var map = maps[i];
                        var heat = SampleRenderer.HeatOverlay(batch.Images[i], map);
                        ImageIO.SavePng(Path.Combine(staged.Path, "heatmaps", stem + ".png"), (int)heat.shape[2], (int)heat.shape[1], ImageIO.ToRgba(heat));
                        var full = nn.functional.interpolate(map.unsqueeze(0), new long[] { h, w }, mode: InterpolationMode.Bilinear, align_corners: false)[0];
                        var maskRgb = full.ge(0.5).to_type(ScalarType.Float32).expand(3, h, w);
                        ImageIO.SavePng(Path.Combine(staged.Path, "masks", stem + "_mask.png"), w, h, ImageIO.ToRgba(maskRgb));
                        lines.WriteLine(new JsonObject
                        {
                            ["path"] = batch.Samples[i].ImagePath,
                            ["score"] = Math.Round(scoreValues[i], 6),
                            ["label"] = scoreValues[i] >= 0.5 ? "anomalous" : "normal",
                            ["threshold"] = 0.5,
                            ["raw_image_threshold"] = trained.Stats.ImageThreshold,
                        }.ToJsonString());
                    }
                    lines.Flush();
                }
                done += batch.Samples.Count;
                step.Advance(batch.Samples.Count);
            }
        }
        staged.Commit();
        return (done, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// The images to predict: one file, or the images of a folder (names must be unique, since outputs are named after
    /// them). Only paths are held, so a folder of any size streams.
    /// </summary>
    public static List<string> ListPredictInputs(string input)
    {
        List<string> files;
        if (File.Exists(input)) files = new List<string> { Path.GetFullPath(input) };
        else if (Directory.Exists(input)) files = ImageFiles.List(input);
        else throw new AnomalySharpException($"input not found: {input}");
        if (files.Count == 0) throw new AnomalySharpException($"{input}: no images ({ImageFiles.Names}) to predict");
        var duplicate = files.GroupBy(f => Path.GetFileNameWithoutExtension(f)).FirstOrDefault(g => g.Count() > 1);
        if (duplicate != null) throw new AnomalySharpException($"{input}: two images share the name '{duplicate.Key}' ({string.Join(", ", duplicate.Select(Path.GetFileName))})");
        return files;
    }

    Batcher MakeBatcher(ConfigTree config, bool forceSkip = false) =>
        new(config.GetInt("data.image_size", 32, 4096), config.GetInt("data.batch_size", 1, 1024),
            forceSkip || config.GetBool("data.skip_bad_images"), _cancellation)
        { OnSkip = reason => _progress.Message("skipped: " + reason), DecodeThreads = RunSettings.Threads(config) };

    /// <summary>Predicts every test image and keeps what metrics and pictures need.</summary>
    EvaluationSet Evaluate(IAnomalyModel model, IReadOnlyList<AnomalySample> samples, Batcher batcher, bool masks, out double seconds, string title = "evaluate")
    {
        var clock = Stopwatch.StartNew();
        var kept = new List<AnomalySample>();
        var images = new List<Tensor>(); var maps = new List<Tensor>(); var scores = new List<Tensor>(); var maskList = new List<Tensor>();
        using (var step = _progress.Start(title, samples.Count))
        {
            foreach (var batch in batcher.Enumerate(samples, masks))
            {
                using (batch)
                using (var output = model.Predict(batch.Images))
                using (NewDisposeScope())
                {
                    // The scope frees the float copy of the images and the detached views (a validation pass during
                    // training leaked about 650 MB of them each time); the kept tensors leave it and the lists own them.
                    kept.AddRange(batch.Samples);
                    images.Add(batch.Images.mul(255f).round_().to_type(ScalarType.Byte).DetachFromDisposeScope());
                    maps.Add(output.Maps.detach().clone().DetachFromDisposeScope());
                    scores.Add(output.Scores.detach().clone().DetachFromDisposeScope());
                    if (masks) maskList.Add(batch.Masks!.to_type(ScalarType.Byte).DetachFromDisposeScope());
                }
                step.Advance(batch.Samples.Count);
            }
        }
        seconds = clock.Elapsed.TotalSeconds;
        if (kept.Count == 0) throw new AnomalySharpException("no test image could be read");
        var labels = tensor(kept.Select(s => s.IsAnomalous ? 1f : 0f).ToArray());
        var set = new EvaluationSet(kept, cat(images, 0), cat(maps, 0), cat(scores, 0), labels, masks ? cat(maskList, 0) : null);
        foreach (var t in images.Concat(maps).Concat(scores).Concat(maskList)) t.Dispose();
        return set;
    }

    /// <summary>(validation set or null when it is the whole test set, evaluation set).</summary>
    static (EvaluationSet? Validation, EvaluationSet Evaluation) SplitForValidation(ConfigTree config, EvaluationSet all)
    {
        string mode = config.GetChoice("postprocessing.validation", "test", "holdout", "none");
        if (mode != "holdout") return (null, all);
        var (val, eval) = SplitIndices(config, all.Samples);
        return (all.Subset(val), all.Subset(eval));
    }

    /// <summary>The seeded, stratified holdout split of test samples: (validation indices, evaluation indices), ascending.</summary>
    static (List<int> Validation, List<int> Evaluation) SplitIndices(ConfigTree config, IReadOnlyList<AnomalySample> samples)
    {
        double fraction = config.GetDouble("postprocessing.validation_fraction", 0.05, 0.95);
        var rng = new Random(config.GetInt("seed"));
        var val = new List<int>(); var eval = new List<int>();
        foreach (bool anomalous in new[] { false, true }) // stratified, so both parts hold both kinds
        {
            var idx = Enumerable.Range(0, samples.Count).Where(i => samples[i].IsAnomalous == anomalous).ToArray();
            rng.Shuffle(idx);
            int n = Math.Max(1, (int)Math.Round(idx.Length * fraction));
            if (n >= idx.Length) throw new AnomalySharpException($"postprocessing.validation=holdout: too few {(anomalous ? "defective" : "normal")} test images ({idx.Length}) to hold some out");
            val.AddRange(idx.Take(n)); eval.AddRange(idx.Skip(n));
        }
        val.Sort(); eval.Sort();
        return (val, eval);
    }

    static NormalizationStats Calibrate(ConfigTree config, EvaluationSet set)
    {
        string mode = config.GetString("postprocessing.validation");
        double? image = config.GetDoubleOrNull("postprocessing.image_threshold");
        double? pixel = config.GetDoubleOrNull("postprocessing.pixel_threshold");
        if (mode == "none" && (image is null || pixel is null))
            throw new AnomalySharpException("postprocessing.validation=none needs postprocessing.image_threshold and postprocessing.pixel_threshold (raw values)");
        return ThresholdCalibrator.Calibrate(set.Scores, set.Labels, set.Maps, set.Masks, image, pixel);
    }

    /// <summary>Metrics, pictures and report for an evaluation set under fixed statistics.</summary>
    JsonObject Report(TrainedModel trained, EvaluationSet set, string outDir, IAnomalyDataset dataset, Batcher batcher)
    {
        var stats = trained.Stats;
        var metrics = MetricReport.Compute(set.Scores, set.Labels, set.Maps, set.Masks);
        using var normScores = MinMaxNormalizer.NormalizeScores(set.Scores, stats);
        var scoreValues = normScores.data<float>().ToArray();
        var config = trained.Config;
        var results = new JsonObject
        {
            ["model"] = trained.Model.Name,
            ["backbone"] = config.Has("model.backbone") ? config.GetString("model.backbone") : null,
            ["image_size"] = trained.ImageSize,
            ["seed"] = config.GetInt("seed"),
            ["dataset"] = dataset.Description,
            ["n_test"] = set.Samples.Count,
            ["image_auroc"] = Round(metrics.ImageAuroc),
            ["image_f1max"] = Round(metrics.ImageF1Max),
            ["image_aupr"] = Round(metrics.ImageAupr),
            ["pixel_auroc"] = Round(metrics.PixelAuroc),
            ["pixel_f1max"] = Round(metrics.PixelF1Max),
            ["pixel_aupr"] = Round(metrics.PixelAupr),
            ["aupr"] = Round(metrics.PixelAupr),
            ["aupro"] = Round(metrics.Aupro),
            ["image_threshold"] = stats.ImageThreshold,
            ["pixel_threshold"] = stats.PixelThreshold,
            ["image_accuracy_at_threshold"] = Round(Enumerable.Range(0, set.Samples.Count).Count(i => scoreValues[i] >= 0.5 == set.Samples[i].IsAnomalous) / (double)set.Samples.Count),
        };

        // Curves and per-image scores for plots (the benchmark command draws them).
        JsonArray Arr(IEnumerable<double> v) => new(v.Select(x => (JsonNode)Math.Round(x, 6)).ToArray());
        WriteJson(Path.Combine(outDir, "curves.json"), new JsonObject
        {
            ["roc"] = new JsonObject { ["fpr"] = Arr(metrics.ImageRoc.Fpr), ["tpr"] = Arr(metrics.ImageRoc.Tpr) },
            ["pro"] = new JsonObject { ["fpr"] = Arr(metrics.ProCurve.Fpr), ["pro"] = Arr(metrics.ProCurve.Pro) },
            ["scores"] = Arr(scoreValues.Select(v => (double)v)),
            ["labels"] = new JsonArray(set.Samples.Select(x => (JsonNode)(x.IsAnomalous ? 1 : 0)).ToArray()),
        });

        var items = new List<ReportItem>();
        bool saveImages = config.GetBool("visualization.save_images");
        if (saveImages)
        {
            string imagesDir = Path.Combine(outDir, "images");
            Directory.CreateDirectory(imagesDir);
            using var step = _progress.Start("write images", set.Samples.Count);
            for (int i = 0; i < set.Samples.Count; i++)
            {
                using var scope = NewDisposeScope();
                var sample = set.Samples[i];
                string file = $"{sample.DefectType}_{Path.GetFileNameWithoutExtension(sample.ImagePath)}.png";
                var map = MinMaxNormalizer.NormalizeMaps(set.Maps[i], stats);
                SampleRenderer.Save(Path.Combine(imagesDir, file), set.Images[i], map, set.Masks?[i]);
                items.Add(new ReportItem(sample.Id, sample.DefectType, "images/" + file, sample.ImagePath, scoreValues[i], sample.IsAnomalous));
                step.Advance(1);
            }
        }
        else
            items.AddRange(set.Samples.Select((s, i) => new ReportItem(s.Id, s.DefectType, "", s.ImagePath, scoreValues[i], s.IsAnomalous)));

        var rows = results.Where(kv => kv.Value is JsonValue).Select(kv => (kv.Key, kv.Value!.ToJsonString().Trim('"'))).ToList();
        HtmlReport.Write(Path.Combine(outDir, "report.html"), $"AnomalySharp — {trained.Model.Name} on {dataset.Root}", rows, items);
        return results;
    }

    static double? Round(double? v) => v is null || double.IsNaN(v.Value) ? null : Math.Round(v.Value, 5);

    static void WriteJson(string path, JsonObject obj) =>
        File.WriteAllText(path, obj.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

    /// <summary>Formats a number for messages.</summary>
    public static string Format(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
}
