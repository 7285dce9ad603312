using System.Diagnostics;
using AnomalySharp.Configuration;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.IO;
using AnomalySharp.Models;
using AnomalySharp.Packaging;
using AnomalySharp.PostProcessing;
using AnomalySharp.Training;
using static TorchSharp.torch;

namespace AnomalySharp.Engine;

/// <summary>
/// The verbs: <see cref="Train"/> (fit, calibrate, evaluate, save, report), <see cref="Update"/> (fold new good
/// images into a saved model) and <see cref="Test"/> (re-evaluate a saved model). Every verb writes its output folder
/// atomically. New images are scored by a saved model's detector (Export.TrainedModelDetector.CreateDetector) or an
/// exported file's (Runtime.OnnxAnomalyDetector).
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
    internal static OutputGuard.Input[] DatasetInputs(IAnomalyDataset dataset)
    {
        var folders = dataset.Train.Concat(dataset.Test)
            .SelectMany(s => new[] { Path.GetDirectoryName(s.ImagePath), s.MaskPath == null ? null : Path.GetDirectoryName(s.MaskPath) })
            .Where(d => d != null).Distinct(StringComparer.Ordinal)
            .Select(d => new OutputGuard.Input(d, "data folder"));
        return (dataset is FolderDataset ? folders : folders.Prepend(new OutputGuard.Input(dataset.Root, "data folder"))).ToArray();
    }

    /// <summary>
    /// Continues an interrupted training run (<see cref="ResumePlan"/>) and finishes it as <see cref="Train"/> does, on
    /// <paramref name="dataset"/> (default: the run's recorded dataset) into <paramref name="output"/> (default: the run's).
    /// </summary>
    public RunResults Resume(ResumePlan plan, IAnomalyDataset? dataset = null, string? output = null, bool overwrite = false,
        CancellationToken cancellation = default)
    {
        output ??= plan.Output ?? throw new AnomalySharpException($"{plan.CheckpointPath}: no output folder recorded; give "
            + $"{OptionText.Name("output")}");
        var resume = new ResumePoint(plan.CheckpointPath, plan.Header);
        return TrainFrom(plan.Config, dataset ?? plan.Dataset(), output, overwrite, resume, cancellation);
    }

    /// <summary>Fits a model and evaluates it; writes results.json, the model file, images and report.html.</summary>
    /// <remarks>
    /// Every configuration key is read and checked first (<see cref="EngineOptions"/>, and the model's own keys when it is
    /// built). A model that learns a network (<see cref="ITrainableModel"/>) trains epoch by epoch with checkpoints,
    /// logs and validation in OUTPUT.training; <paramref name="resume"/> continues from a checkpoint there,
    /// and cancelling <paramref name="cancellation"/> saves one and throws <see cref="TrainingInterruptedException"/>.
    /// </remarks>
    public RunResults Train(ConfigTree config, IAnomalyDataset dataset, string output, bool overwrite, string? resume = null,
        CancellationToken cancellation = default) => TrainFrom(config, dataset, output, overwrite, ResumePoint.Read(resume), cancellation);

    RunResults TrainFrom(ConfigTree config, IAnomalyDataset dataset, string output, bool overwrite, ResumePoint? resume,
        CancellationToken cancellation)
    {
        if (!cancellation.CanBeCanceled) cancellation = _cancellation;
        StageTimings.Begin();
        var options = EngineOptions.From(config);
        var inputs = DatasetInputs(dataset);
        // Thresholds from good images alone: their calibration share is set aside before anything is fitted.
        ThresholdRule method = options.ResolveThreshold(dataset.Test.Any(s => s.IsAnomalous));
        IReadOnlyList<AnomalySample>? calibration = null;
        if (method == ThresholdRule.FalseAlarmRate) (dataset, calibration) = NormalCalibration.Split(dataset, options);
        else if (method == ThresholdRule.F1 && !dataset.Test.Any(s => s.IsAnomalous))
            throw new AnomalySharpException("postprocessing.threshold=f1 needs defective test images to choose a threshold; with good "
                + "images only use false_alarm_rate (the default without defects)");
        OutputGuard.CheckNotInput(output, "output", inputs.Append(new OutputGuard.Input(resume?.Path, "checkpoint")).ToArray());
        string trainingFolder = NetworkTraining.Folder(options, output);
        if (options.Trains)
        {
            OutputGuard.CheckNotInput(trainingFolder, "training folder", inputs);
            if (resume == null && Directory.Exists(trainingFolder) && !overwrite)
                throw new AnomalySharpException($"{trainingFolder} holds checkpoints of an earlier run: continue it with "
                    + $"{OptionText.Name("resume")} "
                        + $"{NetworkTraining.LastCheckpoint(trainingFolder) ?? Path.Combine(trainingFolder, Trainer.LastFile)}, or "
                            + $"use {OptionText.Name("overwrite")} to start over");
            if (resume == null && overwrite) OutputGuard.CheckReplaceableFolder(trainingFolder, Trainer.LastFile, Trainer.BestFile,
                "metrics.csv", NetworkTraining.PositionFolder("", 0));
        }
        using var staged = new StagedOutput(output, overwrite, "results.json");
        // A training folder this run creates goes again when the run fails before its first checkpoint.
        bool ownsTrainingFolder = options.Trains && (!Directory.Exists(trainingFolder) || (overwrite && resume == null));
        using var trainingCleanup = ownsTrainingFolder ? PendingOutputs.Register(()
            => NetworkTraining.RemoveWithoutCheckpoint(trainingFolder)) : null;
        try
        {
            return TrainStaged(config, options, dataset, output, overwrite, resume, cancellation, staged, trainingFolder,
                calibration, method);
        }
        catch (OperationCanceledException) when (NetworkTraining.LastCheckpoint(trainingFolder) != null)
        {
            string last = NetworkTraining.LastCheckpoint(trainingFolder)!;
            throw new TrainingInterruptedException($"training interrupted: the last checkpoint is {last} (continue with "
                + $"{OptionText.Name("resume")} {last})", last);
        }
        catch when (ownsTrainingFolder)
        {
            NetworkTraining.RemoveWithoutCheckpoint(trainingFolder);
            throw;
        }
    }

    RunResults TrainStaged(ConfigTree config, EngineOptions options, IAnomalyDataset dataset, string output, bool overwrite,
        ResumePoint? resume, CancellationToken cancellation, StagedOutput staged, string trainingFolder,
        IReadOnlyList<AnomalySample>? calibration, ThresholdRule method)
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
        if (model is ITrainableModel)
            training = new NetworkTraining(_progress, evaluator).Train(model, config, options, dataset, output, trainingFolder, fitData,
                MakeBatcher(options, cancellation), resume, overwrite, cancellation);
        else if (model is Tiling.TiledEnsembleModel { Trains: true } ensemble)
            training = new NetworkTraining(_progress, evaluator).TrainEnsemble(ensemble, config, options, dataset, output,
                trainingFolder, fitData, resume, overwrite, cancellation);
        else if (resume != null)
            throw new AnomalySharpException($"{OptionText.Name("resume")} applies to trained models "
                + $"({string.Join(", ", ModelRegistry.TrainedNames)}), not {model.Name}");
        else
            model.Fit(fitData, _progress);
        var fit = new FitOutcome(training?.Seconds ?? fitClock.Elapsed.TotalSeconds, MemoryMonitor.PeakResidentMb(), training);
        var provenance = new ModelProvenance
        {
            Threshold = method,
            Fitted = dataset.Train.Where(s => !batcher.SkippedPaths.Contains(s.ImagePath)).Select(s
                => Path.GetFullPath(s.ImagePath)).ToList(),
            Calibration = calibration?.Select(s => Path.GetFullPath(s.ImagePath)).ToList() ?? new List<string>(),
            Test = dataset.Test,
            ImageSizes = shapes.Seen,
        };
        return Conclude(model, config, options, dataset, staged, trainingFolder, calibration, method, batcher, evaluator, fit,
            provenance, update: null);
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
    RunResults Conclude(IAnomalyModel model, ConfigTree config, EngineOptions options, IAnomalyDataset dataset, StagedOutput staged,
        string trainingFolder, IReadOnlyList<AnomalySample>? calibration, ThresholdRule method, Batcher batcher, Evaluator evaluator,
        FitOutcome fit, ModelProvenance provenance, System.Text.Json.Nodes.JsonObject? update)
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
                calibrationSet = evaluator.Evaluate(model, calibration, batcher, masks: false,
                    keepImages: reportOnThem && options.SaveImages, out double calibrationSeconds, "calibrate");
                (stats, thresholdReport) = NormalCalibration.Calibrate(calibrationSet, options);
                if (reportOnThem) (all, predictSeconds) = (calibrationSet, calibrationSeconds);
                else all = evaluator.Evaluate(model, dataset.Test, batcher, dataset.HasMasks, out predictSeconds);
                evaluation = all;
            }
            else
            {
                if (dataset.Test.Count == 0) throw new AnomalySharpException($"{dataset.Description}: no test images to evaluate or "
                    + $"calibrate on");
                all = evaluator.Evaluate(model, dataset.Test, batcher, dataset.HasMasks, out predictSeconds);
                MemoryMonitor.EndStage("evaluate");
                (validation, evaluation) = Calibration.Split(options, all);
                if (validation is null && all.HasMasks && options.PixelThreshold is null)
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
        // shares `model`, disposed by the caller
        var trained = new TrainedModel(model, config, stats, dataset.Root) { Provenance = provenance };
        trained.Save(Path.Combine(staged.Path, ModelPackage.FileName));
        MemoryMonitor.EndStage("save");
        File.WriteAllText(Path.Combine(staged.Path, "config.yaml"), config.ToYaml());

        var report = new ResultsWriter(_progress).Write(options, stats, evaluation, staged.Path, dataset, thresholdReport, sorted);
        int nValidation = calibration?.Count ?? validation?.Samples.Count
            ?? (options.Validation == ValidationSource.Test ? all.Samples.Count : 0);
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
            Validation = options.Validation.ConfigName(),
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


    Batcher MakeBatcher(EngineOptions options, CancellationToken cancellation) =>
        new(options.ImageHeight, options.ImageWidth, options.BatchSize, options.SkipBadImages, cancellation)
        { OnSkip = reason => _progress.Message("skipped: " + reason), DecodeThreads = options.Threads };
}
