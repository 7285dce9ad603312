using AnomalySharp.Engine;
using AnomalySharp.Models;
using AnomalySharp.Packaging;
using AnomalySharp.Tests.Models;
using AnomalySharp.Training;

namespace AnomalySharp.Tests.Training;

/// <summary>
/// Bit-exact comparisons of two training runs. They run alone: TorchSharp's intra-op thread pool is shared by the
/// process, and when parallel tests use it at the same time a reduction may be split differently, which changes
/// the last bits of a sum (two separate processes with the same seed and thread count agree exactly).
/// </summary>
[Collection(IsolatedCollection.Name)]
[Trait(IsolatedCollection.Trait, IsolatedCollection.Value)]
public class TrainingDeterminismTests
{
    [Theory]
    [InlineData("stfpm")]
    [InlineData("fastflow")]
    [InlineData("reverse_distillation")]
    [InlineData("cfa")]
    public void AnInterruptedRunResumesToTheSameFinalWeights(string model)
    {
        string dir = TestPaths.TempDir(model + "-resume");
        var ds = PadimTests.SmallSynthetic();
        var config = TrainedModelsTests.Small(model, 64, 3);
        config.Set("data.batch_size=8");
        new AnomalyEngine().Train(config, ds, Path.Combine(dir, "straight"), false);

        using var cancel = new CancellationTokenSource();
        string output = Path.Combine(dir, "interrupted");
        var stopped = Assert.Throws<TrainingInterruptedException>(() =>
            new AnomalyEngine(new CancelDuringEpoch(cancel, "epoch 2/3", 16)).Train(config, ds, output, false, cancellation: cancel.Token));
        Assert.False(Directory.Exists(output), "no half-written output");
        Assert.Equal(Path.Combine(output + ".training", Trainer.LastFile), stopped.CheckpointPath);
        var state = Checkpoint.ReadHeader(stopped.CheckpointPath).State;
        Assert.Equal(1, state.Epoch);
        Assert.Equal(2, state.Step); // two batches of 8 into epoch 2

        var resumedResults = new AnomalyEngine().Train(config, ds, output, false, resume: stopped.CheckpointPath).ToJson();
        Assert.Equal(3, (int)resumedResults["training"]!["epochs"]!);
        AssertSameWeightsAndScores(Path.Combine(dir, "straight"), output);
    }

    /// <summary>
    /// A stop during the checks after an epoch (here the validation on labelled images, which for a large network on
    /// many images takes minutes) keeps the epoch's steps: the checkpoint saved before the checks holds them, and
    /// resuming repeats only the checks, to the same weights, monitor history and scores as a run never stopped.
    /// </summary>
    [Fact]
    public void AStopDuringTheChecksAfterAnEpochKeepsItsSteps()
    {
        string dir = TestPaths.TempDir("stop-in-checks");
        var ds = PadimTests.SmallSynthetic();
        var config = TrainedModelsTests.Small("reverse_distillation", 64, 3);
        config.Set("data.batch_size=8");
        config.Set("training.validate_every=1");
        new AnomalyEngine().Train(config, ds, Path.Combine(dir, "straight"), false);

        using var cancel = new CancellationTokenSource();
        string output = Path.Combine(dir, "interrupted");
        var stopped = Assert.Throws<TrainingInterruptedException>(() =>
            new AnomalyEngine(new CancelDuringEpoch(cancel, "validate", 1)).Train(config, ds, output, false, cancellation: cancel.Token));
        Assert.False(Directory.Exists(output), "no half-written output");
        Assert.Contains("while checking epoch 1", stopped.Message);
        var state = Checkpoint.ReadHeader(stopped.CheckpointPath).State;
        Assert.Equal(0, state.Epoch);
        // all but the held-out tenth
        int trainedOn = ds.Train.Count - Math.Clamp((int)Math.Round(ds.Train.Count * 0.1), 1, ds.Train.Count - 1);
        Assert.True(state.Step * 8 >= trainedOn && (state.Step - 1) * 8 < trainedOn,
            $"epoch 1's steps saved, got {state.Step} batches of 8 for {trainedOn} images");

        new AnomalyEngine().Train(config, ds, output, false, resume: stopped.CheckpointPath);
        AssertSameWeightsAndScores(Path.Combine(dir, "straight"), output);
        Assert.Equal(File.ReadAllText(Path.Combine(dir, "straight", "training", "metrics.csv")).Split('\n').Select(Checks),
            File.ReadAllText(Path.Combine(output, "training", "metrics.csv")).Split('\n').Select(Checks));
    }

    /// <summary>A metrics.csv row without its timing and memory columns (epoch, loss, then the checks and the monitor).</summary>
    static string Checks(string row)
    {
        var cells = row.Split(',');
        return cells.Length < 7 ? row : string.Join(",", cells.Take(2).Concat(cells.Skip(7)));
    }

    /// <summary>Two `train` outputs hold bit-identical weights and scored every test image alike.</summary>
    /// <summary>A stop before CFA's memory bank is built (the trainer's first act after caching the features) saves an
    /// epoch-0 checkpoint without the bank; resuming builds it, to the weights and scores of a run never stopped.</summary>
    [Fact]
    public void AStopBeforeTheMemoryBankIsBuiltResumesToTheSameWeights()
    {
        string dir = TestPaths.TempDir("cfa-resume-bank");
        var ds = PadimTests.SmallSynthetic();
        var config = TrainedModelsTests.Small("cfa", 64, 2);
        config.Set("data.batch_size=8");
        new AnomalyEngine().Train(config, ds, Path.Combine(dir, "straight"), false);

        using var cancel = new CancellationTokenSource();
        string output = Path.Combine(dir, "interrupted");
        // Asked for as the cache's last batch is stored, the stop is taken at the bank's first batch.
        var stopped = Assert.Throws<TrainingInterruptedException>(() => new AnomalyEngine(new CancelDuringEpoch(cancel,
            "cache frozen features", ds.Train.Count)).Train(config, ds, output, false, cancellation: cancel.Token));
        var header = Checkpoint.ReadHeader(stopped.CheckpointPath);
        Assert.Equal((0, 0), (header.State.Epoch, header.State.Step));
        using (var probe = (NetworkModel)ModelRegistry.Create(config))
        {
            Checkpoint.Read(stopped.CheckpointPath, probe.Network, null);
            Assert.True(((IInitializedFromData)probe).NeedsInitialization, "the stop came after the bank was built");
        }
        new AnomalyEngine().Train(config, ds, output, false, resume: stopped.CheckpointPath);
        AssertSameWeightsAndScores(Path.Combine(dir, "straight"), output);
    }

    internal static void AssertSameWeightsAndScores(string expected, string actual)
    {
        using var a = TrainedModel.Load(expected);
        using var b = TrainedModel.Load(actual);
        var sa = a.Model.GetState();
        var sb = b.Model.GetState();
        Assert.Equal(sa.Keys.Order(), sb.Keys.Order());
        foreach (var (key, value) in sa)
            Assert.True(value.equal(sb[key]).all().item<bool>(), $"{a.Model.Name}: {key} differs after resuming");
        Assert.Equal(TrainedModelsTests.Scores(expected), TrainedModelsTests.Scores(actual));
    }


    [Fact]
    public void AugmentedTrainingRecomputesFeaturesAndStaysDeterministic()
    {
        string dir = TestPaths.TempDir("augment");
        var config = TrainedModelsTests.Small("reverse_distillation", 64, 2);
        config.Set("training.augment.hflip=true");
        config.Set("training.augment.rotation_degrees=5");
        var ds = PadimTests.SmallSynthetic();
        var a = new AnomalyEngine().Train(config, ds, Path.Combine(dir, "a"), false).ToJson();
        var b = new AnomalyEngine().Train(config, ds, Path.Combine(dir, "b"), false).ToJson();
        Assert.False((bool)a["training"]!["features_cached"]!);
        Assert.Equal((double)a["training"]!["final_loss"]!, (double)b["training"]!["final_loss"]!);
    }
}
