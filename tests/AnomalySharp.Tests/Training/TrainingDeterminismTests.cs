using AnomalySharp.Engine;
using AnomalySharp.Tests.Models;
using AnomalySharp.Training;

namespace AnomalySharp.Tests.Training;

/// <summary>
/// Bit-exact comparisons of two training runs. They run alone: TorchSharp's intra-op thread pool is shared by the
/// process, and when parallel tests use it at the same time a reduction may be split differently, which changes
/// the last bits of a sum (two separate processes with the same seed and thread count agree exactly).
/// </summary>
[Collection(IsolatedCollection.Name)]
public class TrainingDeterminismTests
{
    [Theory]
    [InlineData("stfpm")]
    [InlineData("fastflow")]
    [InlineData("reverse_distillation")]
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

    /// <summary>Two `train` outputs hold bit-identical weights and scored every test image alike.</summary>
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
