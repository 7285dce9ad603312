using AnomalySharp.Configuration;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
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
        options.CheckpointDir is { } dir ? Path.GetFullPath(dir) : Path.GetFullPath(output).TrimEnd(Path.DirectorySeparatorChar) + ".training";

    /// <summary>Trains <paramref name="model"/>; <paramref name="resume"/> continues from a checkpoint in <paramref name="folder"/>'s run.</summary>
    public TrainingSummary Train(ITrainableModel model, ConfigTree config, EngineOptions options, IAnomalyDataset dataset, string output, string folder,
        FitData fitData, Batcher batcher, string? resume, bool overwrite, CancellationToken cancellation)
    {
        var trainingOptions = TrainingOptions.FromConfig(config);
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
        if (options.Validation == "holdout")
            testSamples = Calibration.SplitIndices(options, dataset.Test).Validation.Select(i => dataset.Test[i]).ToList();
        IReadOnlyList<AnomalySample>? synthetic = null; // written at the first check, from the trainer's held-out images
        var run = new TrainingRun
        {
            Progress = _progress,
            Cancellation = cancellation,
            Folder = folder,
            ResumeFrom = resume,
            Seed = options.Seed,
            Validate = testSamples.Count == 0 || !testSamples.Any(s => s.IsAnomalous) ? null
                : m => _evaluator.ValidationMetrics(m, testSamples, batcher, dataset.HasMasks),
            ValidateSynthetic = (m, heldOut) =>
            {
                synthetic ??= SyntheticDefects.Create(heldOut.Where(s => !batcher.SkippedPaths.Contains(s.ImagePath)).ToList(),
                    Path.Combine(folder, "synthetic"), options.Seed, options.SkipBadImages ? m => _progress.Message($"skipped for the synthetic check: {m}") : null);
                return _evaluator.ValidationMetrics(m, synthetic, batcher, masks: true);
            },
            ItemsPerImage = model is TiledModel t ? t.Grid.Count : 1,
            Describe = state => new Checkpoint
            {
                Model = model.Name, ConfigYaml = config.ToYaml(), DatasetDescription = dataset.Description, DatasetRoot = dataset.Root,
                TrainCount = dataset.Train.Count, Output = Path.GetFullPath(output), State = state,
            },
        };
        if (model is TiledModel tiled) fitData = tiled.Tiles(fitData, _progress); // the trainer's images are the tiles
        var summary = Trainer.Run(model, trainingOptions, fitData, run);
        ((model as TiledModel)?.Inner as NetworkModel ?? model as NetworkModel)?.Trained(summary);
        return summary;
    }

    /// <summary>Removes a training folder that holds no checkpoint (a run that failed before its first).</summary>
    public static void RemoveWithoutCheckpoint(string folder)
    {
        if (Directory.Exists(folder) && !File.Exists(Path.Combine(folder, Trainer.LastFile))) PendingOutputs.DeleteFolder(folder);
    }

    /// <summary>Copies the training folder's files (not temporaries) into the output.</summary>
    public static void CopyInto(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from))
            if (!file.EndsWith(".tmp", StringComparison.Ordinal)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }
}
