using AnomalySharp.Configuration;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.IO;
using AnomalySharp.Models;
using AnomalySharp.Tiling;
using AnomalySharp.Training;

namespace AnomalySharp.Engine;

/// <summary>
/// The one training path for every <see cref="ITrainableModel"/> (the built-in networks and a plugin's alike): epochs
/// by the <see cref="Trainer"/> with checkpoints, metrics.csv and TensorBoard events in the training folder, validation
/// on labelled images between epochs, and exact resumption from a checkpoint.
/// </summary>
internal sealed class NetworkTraining
{
    readonly IProgressReporter _progress;
    readonly Evaluator _evaluator;

    public NetworkTraining(IProgressReporter progress, Evaluator evaluator)
    {
        _progress = progress;
        _evaluator = evaluator;
    }

    /// <summary>
    /// Where a trained model keeps its checkpoints, metrics.csv and TensorBoard events while it trains:
    /// training.checkpoint_dir, else OUTPUT.training beside the output folder (copied into OUTPUT/training at the end).
    /// </summary>
    public static string Folder(EngineOptions options, string output) =>
        options.CheckpointDir is { } dir
            ? Path.GetFullPath(dir) : Path.GetFullPath(output).TrimEnd(Path.DirectorySeparatorChar) + ".training";

    /// <summary>Trains <paramref name="model"/>; <paramref name="resume"/> continues from a checkpoint in <paramref name="folder"/>'s
    /// run.</summary>
    public TrainingSummary Train(IAnomalyModel model, ConfigTree config, EngineOptions options, IAnomalyDataset dataset, string output,
        string folder, FitData fitData, Batcher batcher, ResumePoint? resume, bool overwrite, CancellationToken cancellation,
        int? epochs = null)
    {
        var trainable = model as ITrainableModel ?? throw new ArgumentException($"{model.Name} does not train a network", nameof(model));
        var trainingOptions = TrainingOptions.FromConfig(config);
        if (epochs is { } e) trainingOptions = trainingOptions with { MaxEpochs = e }; // `update`: a fine-tune from the kept weights
        if (resume != null)
        {
            CheckResume(resume, model.Name, dataset);
            Directory.CreateDirectory(folder);
            string from = Path.GetDirectoryName(Path.GetFullPath(resume.Path))!;
            if (from != folder && File.Exists(Path.Combine(from, "metrics.csv")) && !File.Exists(Path.Combine(folder, "metrics.csv")))
                File.Copy(Path.Combine(from, "metrics.csv"), Path.Combine(folder, "metrics.csv"));
        }
        else if (Directory.Exists(folder) && overwrite)
            PendingOutputs.DeleteFolder(folder);

        var testSamples = dataset.Test;
        if (options.Validation == ValidationSource.Holdout)
            testSamples = Calibration.SplitIndices(options, dataset.Test).Validation.Select(i => dataset.Test[i]).ToList();
        IReadOnlyList<AnomalySample>? synthetic = null; // written at the first check, from the trainer's held-out images
        var run = new TrainingRun
        {
            Progress = _progress,
            Cancellation = cancellation,
            Folder = folder,
            ResumeFrom = resume?.Path,
            Seed = options.Seed,
            Validate = testSamples.Count == 0 || !testSamples.Any(s => s.IsAnomalous) ? null
                : () => _evaluator.ValidationMetrics(model, testSamples, batcher, dataset.HasMasks),
            ValidateSynthetic = heldOut =>
            {
                synthetic ??= SyntheticDefects.Create(heldOut.Where(s => !batcher.SkippedPaths.Contains(s.ImagePath)).ToList(),
                    Path.Combine(folder, "synthetic"), options.Seed,
                        options.SkipBadImages ? m => _progress.Message($"skipped for the synthetic check: {m}") : null);
                return _evaluator.ValidationMetrics(model, synthetic, batcher, masks: true);
            },
            ItemsPerImage = model is TiledModel t ? t.Grid.Count : 1,
            Describe = Describe(model.Name, config, dataset, output),
        };
        if (model is TiledModel tiled) fitData = tiled.Tiles(fitData, _progress); // the trainer's images are the tiles
        var summary = Trainer.Run(trainable, trainingOptions, fitData, run);
        ((model as TiledModel)?.Inner as NetworkModel ?? model as NetworkModel)?.Trained(summary);
        return summary;
    }

    /// <summary>
    /// Trains a tiled ensemble of networks (data.tiling.ensemble with STFPM, FastFlow, Reverse Distillation): position
    /// by position, each model on its own position's tiles with its own checkpoints, logs and held-out tiles in
    /// FOLDER/position{k}, then standardized by its own training maps. An interruption leaves the running position's
    /// last.ckpt; <paramref name="resume"/> from position k's checkpoint takes the kept weights of positions before k
    /// from their folders, continues k and trains the rest. Validation on labelled test images and the synthetic-defect
    /// monitor judge whole images, so each position watches its held-out loss (or its training loss, or nothing).
    /// </summary>
    public TrainingSummary TrainEnsemble(TiledEnsembleModel ensemble, ConfigTree config, EngineOptions options, IAnomalyDataset dataset,
        string output, string folder, FitData fitData, ResumePoint? resume, bool overwrite, CancellationToken cancellation)
    {
        var trainingOptions = TrainingOptions.FromConfig(config);
        if (trainingOptions.Monitor is TrainingMonitor.HoldoutSynthetic or TrainingMonitor.ImageAuroc or TrainingMonitor.PixelAuroc)
            throw new AnomalySharpException($"config key 'training.monitor': {trainingOptions.Monitor.ConfigName()} judges whole "
                + "images, and each model of a tiled ensemble sees one tile position; set training.monitor=holdout_loss (its "
                + "held-out tiles' loss), loss or none");
        int count = ensemble.Members.Count, from = 0;
        if (resume != null)
        {
            CheckResume(resume, ensemble.Name, dataset);
            string dir = Path.GetDirectoryName(Path.GetFullPath(resume.Path))!;
            from = PositionOf(dir);
            if (from < 0 || from >= count || Path.GetDirectoryName(dir) != folder)
                throw new AnomalySharpException($"{resume.Path}: a tiled ensemble of {count} positions continues from one of its "
                    + $"positions' checkpoints in its training folder, {Path.Combine(folder, "position<k>", Trainer.LastFile)}");
        }
        else if (Directory.Exists(folder) && overwrite)
            PendingOutputs.DeleteFolder(folder);

        var summaries = new List<TrainingSummary>();
        for (int k = 0; k < count; k++)
        {
            string positionFolder = PositionFolder(folder, k);
            string? resumeFrom = k > from ? null : k == from ? resume?.Path : Path.Combine(positionFolder, Trainer.LastFile);
            if (resumeFrom != null && !File.Exists(resumeFrom))
                throw new AnomalySharpException($"{resume!.Path}: position {k}'s checkpoint {resumeFrom} is missing; start over with "
                    + $"{OptionText.Name("overwrite")}");
            var member = (ITrainableModel)ensemble.Members[k];
            var tiles = TiledFitData.AtPosition(fitData, ensemble.Grid, k);
            var progress = new PrefixedProgress(_progress, $"position {k + 1}/{count}: ");
            var summary = Trainer.Run(member, trainingOptions, tiles, new TrainingRun
            {
                Progress = progress,
                Cancellation = cancellation,
                Folder = positionFolder,
                ResumeFrom = resumeFrom,
                Seed = options.Seed,
                Describe = Describe(ensemble.Name, config, dataset, output),
            });
            (member as NetworkModel)?.Trained(summary);
            ensemble.Fitted(k, tiles);
            summaries.Add(summary);
        }
        return Combine(summaries);
    }

    /// <summary>
    /// One summary for an ensemble's positions: epochs, kept epochs and seconds summed, the last epochs' loss and speed
    /// averaged, stopped early when every position did; <see cref="TrainingSummary.Positions"/> keeps each.
    /// </summary>
    static TrainingSummary Combine(IReadOnlyList<TrainingSummary> s) =>
        new(s.Sum(p => p.Epochs), s.Sum(p => p.Seconds), s.Average(p => p.FinalLoss), s.Sum(p => p.BestEpoch), null,
            s.All(p => p.StoppedEarly),
            s.All(p => p.FeaturesCached), s.Average(p => p.ImagesPerSecond), s[0].HeldOut)
        { Positions = s };

    /// <summary>The checkpoint header of a training state: model, configuration, dataset and output, as --resume checks them.</summary>
    static Func<TrainingState, Checkpoint> Describe(string model, ConfigTree config, IAnomalyDataset dataset,
        string output) => state => new Checkpoint
        {
            Model = model, ConfigYaml = config.ToYaml(), DatasetDescription = dataset.Description, DatasetRoot = dataset.Root,
            TrainCount = dataset.Train.Count, Output = Path.GetFullPath(output), State = state,
        };

    static void CheckResume(ResumePoint resume, string model, IAnomalyDataset dataset)
    {
        var (path, header) = resume;
        if (header.Model != model) throw new AnomalySharpException($"{path}: checkpoint of {header.Model}, not {model}");
        if (header.TrainCount != dataset.Train.Count)
            throw new AnomalySharpException($"{path}: checkpoint was trained on {header.TrainCount} images of "
                + $"{header.DatasetDescription}, this dataset has {dataset.Train.Count}");
    }

    /// <summary>Where position <paramref name="k"/> of a tiled ensemble keeps its checkpoints and logs.</summary>
    public static string PositionFolder(string folder, int k) => Path.Combine(folder,
        "position" + k.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The position number of an ensemble position's folder (position{k}), or −1.</summary>
    static int PositionOf(string dir)
    {
        string name = Path.GetFileName(dir);
        return name.StartsWith("position", StringComparison.Ordinal) && int.TryParse(name["position".Length..],
            System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out int k) ? k : -1;
    }

    /// <summary>
    /// The checkpoint to continue a run in <paramref name="folder"/> from: its last.ckpt, or for a tiled ensemble the
    /// last.ckpt of its highest position that has one; null when there is none.
    /// </summary>
    public static string? LastCheckpoint(string folder)
    {
        string last = Path.Combine(folder, Trainer.LastFile);
        if (File.Exists(last)) return last;
        if (!Directory.Exists(folder)) return null;
        return Directory.GetDirectories(folder).Select(d => (Dir: d,
            K: PositionOf(d))).Where(p => p.K >= 0 && File.Exists(Path.Combine(p.Dir, Trainer.LastFile)))
            .OrderByDescending(p => p.K).Select(p => Path.Combine(p.Dir, Trainer.LastFile)).FirstOrDefault();
    }

    /// <summary>Removes a training folder that holds no checkpoint (a run that failed before its first).</summary>
    public static void RemoveWithoutCheckpoint(string folder)
    {
        if (Directory.Exists(folder) && LastCheckpoint(folder) == null) PendingOutputs.DeleteFolder(folder);
    }

    /// <summary>Copies the training folder's files (not temporaries) into the output, and a tiled ensemble's position folders.</summary>
    public static void CopyInto(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from))
            if (!file.EndsWith(".tmp", StringComparison.Ordinal)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (string dir in Directory.GetDirectories(from))
            if (PositionOf(dir) >= 0) CopyInto(dir, Path.Combine(to, Path.GetFileName(dir)));
    }
}
