using System.Diagnostics;
using System.Globalization;
using AnomalySharp.Configuration;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Export;
using AnomalySharp.Models;
using AnomalySharp.PostProcessing;
using AnomalySharp.Training;
using static TorchSharp.torch;
using AnomalySharp.IO;

namespace AnomalySharp.Engine;

/// <summary>
/// The verbs: <see cref="Train"/> (fit, calibrate, evaluate, save, report), <see cref="Test"/> (re-evaluate a
/// saved model) and <see cref="Predict"/> (score new images). Every verb writes its output folder atomically.
/// </summary>
public sealed partial class AnomalyEngine
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
    /// Every configuration key is read and checked first (<see cref="EngineOptions"/>, and the model's own keys when it is
    /// built). A model that learns a network (<see cref="ITrainableModel"/>) trains epoch by epoch with checkpoints,
    /// logs and validation in <see cref="TrainingFolder"/>; <paramref name="resume"/> continues from a checkpoint there,
    /// and cancelling <paramref name="cancellation"/> saves one and throws <see cref="TrainingInterruptedException"/>.
    /// </remarks>
    public RunResults Train(ConfigTree config, IAnomalyDataset dataset, string output, bool overwrite, string? resume = null, CancellationToken cancellation = default)
    {
        if (!cancellation.CanBeCanceled) cancellation = _cancellation;
        StageTimings.Begin();
        var options = EngineOptions.From(config);
        var inputs = DatasetInputs(dataset);
        // Thresholds from good images alone: their calibration share is set aside before anything is fitted.
        string method = options.ResolveThreshold(dataset.Test.Any(s => s.IsAnomalous));
        IReadOnlyList<AnomalySample>? calibration = null;
        if (method == "false_alarm_rate") (dataset, calibration) = NormalCalibration.Split(dataset, options);
        else if (method == "f1" && !dataset.Test.Any(s => s.IsAnomalous))
            throw new AnomalySharpException("postprocessing.threshold=f1 needs defective test images to choose a threshold; with good images only use false_alarm_rate (the default without defects)");
        OutputGuard.CheckNotInput(output, "output", inputs.Append(new OutputGuard.Input(resume, "checkpoint")).ToArray());
        string trainingFolder = NetworkTraining.Folder(options, output);
        if (options.Trains)
        {
            OutputGuard.CheckNotInput(trainingFolder, "training folder", inputs);
            if (resume == null && Directory.Exists(trainingFolder) && !overwrite)
                throw new AnomalySharpException($"{trainingFolder} holds checkpoints of an earlier run: continue it with {OptionText.Name("resume")} {NetworkTraining.LastCheckpoint(trainingFolder) ?? Path.Combine(trainingFolder, Trainer.LastFile)}, or use {OptionText.Name("overwrite")} to start over");
            if (resume == null && overwrite) OutputGuard.CheckReplaceableFolder(trainingFolder, Trainer.LastFile, Trainer.BestFile, "metrics.csv", NetworkTraining.PositionFolder("", 0));
        }
        using var staged = new StagedOutput(output, overwrite, "results.json");
        // A training folder this run creates goes again when the run fails before its first checkpoint.
        bool ownsTrainingFolder = options.Trains && (!Directory.Exists(trainingFolder) || (overwrite && resume == null));
        using var trainingCleanup = ownsTrainingFolder ? PendingOutputs.Register(() => NetworkTraining.RemoveWithoutCheckpoint(trainingFolder)) : null;
        try
        {
            return TrainStaged(config, options, dataset, output, overwrite, resume, cancellation, staged, trainingFolder, calibration, method);
        }
        catch (OperationCanceledException) when (NetworkTraining.LastCheckpoint(trainingFolder) != null)
        {
            string last = NetworkTraining.LastCheckpoint(trainingFolder)!;
            throw new TrainingInterruptedException($"training interrupted: the last checkpoint is {last} (continue with {OptionText.Name("resume")} {last})", last);
        }
        catch when (ownsTrainingFolder)
        {
            NetworkTraining.RemoveWithoutCheckpoint(trainingFolder);
            throw;
        }
    }

    RunResults TrainStaged(ConfigTree config, EngineOptions options, IAnomalyDataset dataset, string output, bool overwrite, string? resume,
        CancellationToken cancellation, StagedOutput staged, string trainingFolder, IReadOnlyList<AnomalySample>? calibration, string method)
    {
        RunSettings.ApplyThreads(config);
        manual_seed(options.Seed);
        var batcher = MakeBatcher(options, cancellation);
        using var model = Tiling.TiledModels.Create(config);
        var shapes = new ImageShapes();
        var fitData = FitDataOf(dataset.Train, batcher, options, shapes);
        var evaluator = new Evaluator(_progress, options);

        MemoryMonitor.EndStage("prepare"); // the backbone's loading leaves its copies of the weights to the collector
        var fitClock = Stopwatch.StartNew();
        TrainingSummary? training = null;
        if (model is ITrainableModel trainable)
            training = new NetworkTraining(_progress, evaluator).Train(trainable, config, options, dataset, output, trainingFolder, fitData,
                MakeBatcher(options, cancellation), resume, overwrite, cancellation);
        else if (model is Tiling.TiledEnsembleModel { Trains: true } ensemble)
            training = new NetworkTraining(_progress, evaluator).TrainEnsemble(ensemble, config, options, dataset, output, trainingFolder, fitData, resume, overwrite, cancellation);
        else if (resume != null)
            throw new AnomalySharpException($"{OptionText.Name("resume")} applies to trained models (stfpm, fastflow, reverse_distillation), not {model.Name}");
        else
            model.Fit(fitData, _progress);
        var fit = new FitOutcome(training?.Seconds ?? fitClock.Elapsed.TotalSeconds, MemoryMonitor.PeakResidentMb(), training);
        var provenance = new ModelProvenance
        {
            Threshold = method,
            Fitted = dataset.Train.Where(s => !batcher.SkippedPaths.Contains(s.ImagePath)).Select(s => Path.GetFullPath(s.ImagePath)).ToList(),
            Calibration = calibration?.Select(s => Path.GetFullPath(s.ImagePath)).ToList() ?? new List<string>(),
            Test = dataset.Test,
            ImageSizes = shapes.Seen,
        };
        return Conclude(model, config, options, dataset, staged, trainingFolder, calibration, method, batcher, evaluator, fit, provenance, update: null);
    }

    /// <summary>The training images as a <see cref="FitData"/>: batches of the working size, their shapes noted.</summary>
    static FitData FitDataOf(IReadOnlyList<AnomalySample> train, Batcher batcher, EngineOptions options, ImageShapes shapes) =>
        new(train.Count, () => shapes.Watch(batcher.Enumerate(train, loadMasks: false)))
        {
            BatchSize = options.BatchSize,
            Ordered = order => shapes.Watch(batcher.Enumerate(order.Select(i => train[i]).ToList(), loadMasks: false)),
            Samples = train,
        };

    /// <summary>How a fit or an update went: its seconds, the peak memory so far, and a trained network's summary.</summary>
    sealed record FitOutcome(double Seconds, double PeakMb, TrainingSummary? Training);

    /// <summary>
    /// After a fit or an update: thresholds (from the held-out good images, or by F1 on the test images), evaluation,
    /// the model file, config.yaml, results.json and the report, all into <paramref name="staged"/>, then committed.
    /// </summary>
    RunResults Conclude(IAnomalyModel model, ConfigTree config, EngineOptions options, IAnomalyDataset dataset, StagedOutput staged, string trainingFolder,
        IReadOnlyList<AnomalySample>? calibration, string method, Batcher batcher, Evaluator evaluator, FitOutcome fit, ModelProvenance provenance,
        System.Text.Json.Nodes.JsonObject? update)
    {
        MemoryMonitor.EndStage("fit"); // the fit's buffers go back before evaluation builds its own
        NormalizationStats stats;
        ThresholdReport thresholdReport;
        EvaluationSet? all = null, validation = null, calibrationSet = null;
        EvaluationSet evaluation;
        double predictSeconds;
        Metrics.CurveWalk? sorted = null; // every test pixel sorted once, when thresholds and metrics use the same images
        try
        {
            if (calibration != null)
            {
                // The held-out good images set the thresholds; with no test images they are also what the report shows.
                bool reportOnThem = dataset.Test.Count == 0;
                calibrationSet = evaluator.Evaluate(model, calibration, batcher, masks: false, keepImages: reportOnThem && options.SaveImages, out double calibrationSeconds, "calibrate");
                (stats, thresholdReport) = NormalCalibration.Calibrate(calibrationSet, options);
                if (reportOnThem) (all, predictSeconds) = (calibrationSet, calibrationSeconds);
                else all = evaluator.Evaluate(model, dataset.Test, batcher, dataset.HasMasks, out predictSeconds);
                evaluation = all;
            }
            else
            {
                if (dataset.Test.Count == 0) throw new AnomalySharpException($"{dataset.Description}: no test images to evaluate or calibrate on");
                all = evaluator.Evaluate(model, dataset.Test, batcher, dataset.HasMasks, out predictSeconds);
                MemoryMonitor.EndStage("evaluate");
                (validation, evaluation) = Calibration.Split(options, all);
                if (validation is null && all.HasMasks && options.PixelThreshold is null)
                    using (NativeCallGuard.Enter()) // the sort passes implicit Scalars
                        sorted = Metrics.CurveWalk.Sort(all, runLength: options.SortRunLength);
                using (validation)
                    stats = Calibration.Calibrate(options, validation ?? evaluation, sorted);
                thresholdReport = new ThresholdReport(method);
            }
        }
        catch
        {
            sorted?.Dispose();
            calibrationSet?.Dispose();
            if (!ReferenceEquals(all, calibrationSet)) all?.Dispose();
            throw;
        }
        using var disposeAll = all;
        using var disposeSorted = sorted;
        using var disposeCalibration = ReferenceEquals(calibrationSet, all) ? null : calibrationSet;
        MemoryMonitor.EndStage("calibrate");
        var trained = new TrainedModel(model, config, stats, dataset.Root) { Provenance = provenance }; // shares `model`, disposed by the caller
        trained.Save(Path.Combine(staged.Path, ModelPackage.FileName));
        MemoryMonitor.EndStage("save");
        File.WriteAllText(Path.Combine(staged.Path, "config.yaml"), config.ToYaml());

        var report = new ResultsWriter(_progress).Write(options, stats, evaluation, staged.Path, dataset, thresholdReport, sorted);
        int nValidation = calibration?.Count ?? validation?.Samples.Count ?? (options.Validation == "test" ? all.Samples.Count : 0);
        if (!ReferenceEquals(evaluation, all)) evaluation.Dispose();
        var training = fit.Training;
        var results = new RunResults
        {
            Evaluation = report,
            FitSeconds = fit.Seconds,
            FitPeakMemoryMb = fit.PeakMb,
            PredictImagesPerSecond = all.Samples.Count / predictSeconds,
            Threads = options.Threads,
            NTrain = provenance.Fitted.Count,
            NValidation = nValidation,
            Validation = options.Validation,
            Threshold = thresholdReport,
            SkippedImages = batcher.Skipped.ToList(),
            PeakMemoryMb = MemoryMonitor.PeakResidentMb(),
            Training = training == null ? null : RunResults.TrainingReport.From(training, options.Monitor),
            Update = update,
            Timings = StageTimings.Running,
        };
        if (training != null) NetworkTraining.CopyInto(trainingFolder, Path.Combine(staged.Path, "training"));
        results.Write(staged.Path);
        staged.Commit();
        if (training != null && options.CheckpointDir == null)
            try { Directory.Delete(trainingFolder, recursive: true); } catch (IOException) { }
        return results;
    }

    /// <summary>
    /// Where a trained model keeps its checkpoints, metrics.csv and TensorBoard events while it trains:
    /// training.checkpoint_dir, else OUTPUT.training beside the output folder (copied into OUTPUT/training at the end).
    /// </summary>
    public static string TrainingFolder(ConfigTree config, string output) => NetworkTraining.Folder(EngineOptions.From(config), output);

    /// <summary>Re-evaluates a saved model with its saved thresholds on a dataset (by default the one it was trained on).</summary>
    public RunResults Test(string modelPath, IAnomalyDataset? dataset, string output, bool overwrite, bool skipBadImages = false)
    {
        OutputGuard.CheckNotInput(output, "output", new OutputGuard.Input(modelPath, "model"));
        StageTimings.Begin();
        using var trained = TrainedModel.Load(modelPath);
        MemoryMonitor.EndStage("load");
        var options = EngineOptions.From(trained.Config) with { SkipBadImages = skipBadImages || trained.Config.GetBool("data.skip_bad_images") };
        dataset ??= trained.DatasetRoot is { } root && Directory.Exists(Path.Combine(root, "train", "good")) ? new MvtecDataset(root)
            : throw new AnomalySharpException($"{modelPath}: the dataset recorded in the model ({trained.DatasetRoot ?? "none"}) is not an MVTec-layout folder here; give {OptionText.Name("data")}");
        if (dataset.Test.Count == 0)
            throw new AnomalySharpException($"{dataset.Description}: no test images (test/ is missing or empty); `test` measures a model on test images: give {OptionText.Name("data")} with some");
        OutputGuard.CheckNotInput(output, "output", DatasetInputs(dataset));
        using var staged = new StagedOutput(output, overwrite, "results.json");
        RunSettings.ApplyThreads(trained.Config);
        var batcher = MakeBatcher(options, _cancellation);
        using var all = new Evaluator(_progress, options).Evaluate(trained.Model, dataset.Test, batcher, dataset.HasMasks, out double predictSeconds);
        MemoryMonitor.EndStage("evaluate");
        var results = new RunResults
        {
            Evaluation = new ResultsWriter(_progress).Write(options, trained.Stats, all, staged.Path, dataset),
            PredictImagesPerSecond = all.Samples.Count / predictSeconds,
            Threads = options.Threads,
            NTrain = dataset.Train.Count,
            SkippedImages = batcher.Skipped.ToList(),
            PeakMemoryMb = MemoryMonitor.PeakResidentMb(),
            Timings = StageTimings.Running,
        };
        results.Write(staged.Path);
        staged.Commit();
        return results;
    }

    /// <summary>
    /// Scores a file or every image in a folder with a saved model (or an exported .onnx file), streaming in batches
    /// of the model's data.batch_size through the same runtime as a deployment (<see cref="Predictor"/>): writes
    /// heatmaps/NAME.png, masks/NAME_mask.png and one JSON line per image in predictions.jsonl. Returns (images, seconds).
    /// </summary>
    public (int Images, double Seconds) Predict(string modelPath, string input, string output, bool overwrite, bool skipBadImages = false)
    {
        ListPredictInputs(input); // a missing input is named before the model is loaded
        using var predictor = new Predictor(modelPath, batchSize: null, threads: null, skipBadImages, _progress, _cancellation);
        return predictor.Run(input, output, overwrite);
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

    Batcher MakeBatcher(EngineOptions options, CancellationToken cancellation) =>
        new(options.ImageHeight, options.ImageWidth, options.BatchSize, options.SkipBadImages, cancellation)
        { OnSkip = reason => _progress.Message("skipped: " + reason), DecodeThreads = options.Threads };

    /// <summary>Formats a number for messages.</summary>
    public static string Format(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
}
