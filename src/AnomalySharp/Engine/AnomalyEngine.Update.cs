using System.Diagnostics;
using System.Text.Json.Nodes;
using AnomalySharp.Configuration;
using AnomalySharp.Diagnostics;
using AnomalySharp.IO;
using AnomalySharp.Models;
using AnomalySharp.Packaging;
using AnomalySharp.PostProcessing;
using AnomalySharp.Training;
using static TorchSharp.torch;

namespace AnomalySharp.Engine;

public sealed partial class AnomalyEngine
{
    /// <summary>
    /// Folds new good images into a saved model and writes the updated model as `train` writes one (model file, results.json,
    /// report): PaDiM merges its kept sums exactly (the result equals a fit on the old and new images together), PatchCore
    /// grows its bank by the same coreset selection, trained networks fine-tune from their kept weights on the old and new
    /// images for training.update_epochs. The thresholds are chosen again as the model's were: from the held-out good
    /// images, old and new together (false_alarm_rate), or by F1 on its test images. The old model is read, never written,
    /// unless <paramref name="output"/> is its own folder and <paramref name="overwrite"/> is given; an interrupted update
    /// leaves no output.
    /// </summary>
    /// <param name="modelPath">A training output folder or its model file.</param>
    /// <param name="normalDir">The new good images (or good images the model flagged: false alarms).</param>
    /// <param name="output">The output folder.</param>
    /// <param name="overwrite">Whether an existing output folder (an earlier result, or the model's own folder) may be replaced.</param>
    /// <param name="threads">Compute threads for this run (0: all cores); null keeps the model's runtime.threads.</param>
    public RunResults Update(string modelPath, string normalDir, string output, bool overwrite, int? threads = null)
    {
        Diagnostics.StageTimings.Begin();
        string modelFile = Directory.Exists(modelPath) ? Path.Combine(modelPath, ModelPackage.FileName) : modelPath;
        if (modelFile.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
            throw new AnomalySharpException($"{modelPath}: an exported .onnx model holds only its inference graph; update the model "
                + $"file `train` wrote ({ModelPackage.FileName}) and export it again");
        if (!Directory.Exists(normalDir)) throw new AnomalySharpException($"normal folder not found: {Path.GetFullPath(normalDir)}");
        // The model's own folder may be replaced, but only when asked to (it is read whole before anything is written).
        bool ownFolder
            = OutputGuard.ResolveNormalized(Path.GetDirectoryName(Path.GetFullPath(modelFile))!) == OutputGuard.ResolveNormalized(output);
        if (ownFolder && !overwrite)
            throw new AnomalySharpException($"output {Path.GetFullPath(output)} is the model's own folder: give "
                + $"{OptionText.Name("overwrite")} to replace the model with its update, or another {OptionText.Name("output")}");
        bool inPlace = ownFolder && overwrite;
        OutputGuard.CheckNotInput(output, "output", new OutputGuard.Input(inPlace ? null : modelFile, "model"),
            new OutputGuard.Input(normalDir, "normal folder"));

        using var trained = TrainedModel.Load(modelFile, forUpdate: true);
        MemoryMonitor.EndStage("load");
        var config = trained.Config;
        if (threads is { } t) config.Set("runtime.threads=" + t.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var options = EngineOptions.From(config);
        var provenance = trained.Provenance
            ?? throw new AnomalySharpException($"{modelFile}: saved before models recorded the images they learned from; `update` "
                + $"needs a model trained by this version: train it again");
        var model = trained.Model;
        bool fineTune = model is ITrainableModel;
        if (!fineTune)
        {
            string? refusal = model is IUpdatableModel u ? u.UpdateRefusal : $"{model.Name} cannot fold new images in";
            if (refusal != null) throw new AnomalySharpException($"{modelFile}: {refusal}");
        }

        var plan = UpdatePlan.Make(provenance, normalDir, options, trained.ImageShape, fineTune, _progress);
        var dataset = plan.Dataset(trained.DatasetRoot);
        OutputGuard.CheckNotInput(output, "output",
            DatasetInputs(dataset).Concat(plan.Calibration.Select(s => new OutputGuard.Input(Path.GetDirectoryName(s.ImagePath),
                "calibration folder"))).ToArray());
        // Its own folder beside the output, never training.checkpoint_dir, which may hold the original run's checkpoints.
        string trainingFolder = Path.TrimEndingDirectorySeparator(Path.GetFullPath(output)) + ".training";
        if (fineTune && Directory.Exists(trainingFolder))
            throw new AnomalySharpException($"{trainingFolder} exists (an earlier run's checkpoints): remove it or choose another "
                + $"{OptionText.Name("output")}");

        using var staged = new StagedOutput(output, overwrite, "results.json");
        using var trainingCleanup = fineTune ? PendingOutputs.Register(() => PendingOutputs.DeleteFolder(trainingFolder)) : null;
        try
        {
            RunSettings.ApplyThreads(config);
            manual_seed(options.Seed + provenance.Updates + 1);
            var batcher = MakeBatcher(options, _cancellation);
            var shapes = new ImageShapes();
            var evaluator = new Evaluator(_progress, options);
            var clock = Stopwatch.StartNew();
            TrainingSummary? training = null;
            string mode;
            if (fineTune)
            {
                // The union, old images first: the trainer shuffles every epoch with the seed.
                var fitData = FitDataOf(dataset.Train, batcher, options, shapes);
                int epochs = Training.TrainingOptions.FromConfig(config).UpdateEpochs;
                training = new NetworkTraining(_progress, evaluator).Train(model, config, options, dataset, output, trainingFolder, fitData,
                    MakeBatcher(options, _cancellation), resume: null, overwrite: false, _cancellation, epochs);
                mode = $"fine-tuned from the kept weights on {dataset.Train.Count} images (old and new) for up to {epochs} "
                    + $"epoch{(epochs == 1 ? "" : "s")}";
            }
            else
            {
                var updatable = (IUpdatableModel)model;
                updatable.Update(FitDataOf(plan.NewFit, batcher, options, shapes), _progress);
                mode = updatable.UpdateMode;
            }
            _cancellation.ThrowIfCancellationRequested();
            var fit = new FitOutcome(training?.Seconds ?? clock.Elapsed.TotalSeconds, MemoryMonitor.PeakResidentMb(), training);
            var fitted = provenance.Fitted.Concat(plan.NewFit.Where(s => !batcher.SkippedPaths.Contains(s.ImagePath)).Select(s
                => Path.GetFullPath(s.ImagePath))).ToList();
            var updated = provenance with
            {
                Fitted = fitted,
                Calibration = plan.Calibration.Select(s => Path.GetFullPath(s.ImagePath)).ToList(),
                Test = dataset.Test,
                ImageSizes = provenance.ImageSizes.Concat(shapes.Seen).Distinct().Take(ModelProvenance.MaxSizes).ToList(),
                Updates = provenance.Updates + 1,
            };
            var report = new JsonObject
            {
                ["from_model"] = Path.GetFullPath(modelFile),
                ["new_images"] = plan.NewFit.Count + plan.NewCalibration.Count,
                ["new_fitted"] = plan.NewFit.Count,
                ["new_calibration"] = plan.NewCalibration.Count,
                ["already_known"] = plan.Known,
                ["mode"] = mode,
                ["seconds"] = EvaluationReport.Round(fit.Seconds),
                ["updates"] = updated.Updates,
            };
            var calibration = provenance.Threshold == ThresholdRule.FalseAlarmRate ? plan.Calibration : null;
            return Conclude(model, config, options, dataset, staged, trainingFolder, calibration, provenance.Threshold, batcher,
                evaluator, fit, updated, report);
        }
        finally
        {
            // an update is not resumed: start it again
            if (fineTune && Directory.Exists(trainingFolder)) PendingOutputs.DeleteFolder(trainingFolder);
        }
    }
}
