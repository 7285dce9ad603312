using AnomalySharp.Configuration;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.IO;
using AnomalySharp.Packaging;

namespace AnomalySharp.Engine;

public sealed partial class AnomalyEngine
{
    /// <summary>Re-evaluates a saved model with its saved thresholds on a dataset (by default the one it was trained on).</summary>
    public RunResults Test(string modelPath, IAnomalyDataset? dataset, string output, bool overwrite, bool skipBadImages = false)
    {
        OutputGuard.CheckNotInput(output, "output", new OutputGuard.Input(modelPath, "model"));
        StageTimings.Begin();
        using var trained = TrainedModel.Load(modelPath);
        MemoryMonitor.EndStage("load");
        var options = EngineOptions.From(trained.Config) with
        {
            SkipBadImages = skipBadImages
            || trained.Config.GetBool("data.skip_bad_images")
        };
        dataset ??= trained.DatasetRoot is { } root && Directory.Exists(Path.Combine(root, "train", "good")) ? new MvtecDataset(root)
            : throw new AnomalySharpException($"{modelPath}: the dataset recorded in the model ({trained.DatasetRoot ?? "none"}) is "
                + $"not an MVTec-layout folder here; give {OptionText.Name("data")}");
        if (dataset.Test.Count == 0)
            throw new AnomalySharpException($"{dataset.Description}: no test images (test/ is missing or empty); `test` measures a "
                + $"model on test images: give {OptionText.Name("data")} with some");
        OutputGuard.CheckNotInput(output, "output", DatasetInputs(dataset));
        using var staged = new StagedOutput(output, overwrite, "results.json");
        RunSettings.ApplyThreads(trained.Config);
        var batcher = MakeBatcher(options, _cancellation);
        using var all = new Evaluator(_progress, options).Evaluate(trained.Model, dataset.Test, batcher, dataset.HasMasks,
            out double predictSeconds);
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
}
