using AnomalySharp.Data;
using AnomalySharp.Engine;
using AnomalySharp.Packaging;
using AnomalySharp.Tests.Models;
using AnomalySharp.Tests.Training;
using AnomalySharp.Tiling;
using AnomalySharp.Training;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Tiling;

/// <summary>
/// A tiled ensemble of trained networks (issue #17): `train` trains one network per tile position, each on its own
/// position's tiles with its own checkpoints, and an interrupted ensemble resumes to the same weights. Bit-exact
/// comparisons of training runs, so they run alone (see <see cref="Training.TrainingDeterminismTests"/>).
/// </summary>
[Collection(IsolatedCollection.Name)]
[Trait(IsolatedCollection.Trait, IsolatedCollection.Value)]
public class TrainedEnsembleTests
{
    /// <summary>STFPM on a 64 × 128 working size in two 64-px positions, side by side.</summary>
    static AnomalySharp.Configuration.ConfigTree Config(string model, int epochs)
    {
        var config = TrainedModelsTests.Small(model, 64, epochs);
        config.Set("data.image_size=[64, 128]");
        config.Set("data.tiling.tile_size=64");
        config.Set("data.tiling.ensemble=true");
        config.Set("data.batch_size=8");
        return config;
    }

    [Fact]
    public void EachPositionsNetworkIsTheNetworkTrainedOnItsOwnTilesAlone()
    {
        var ds = PadimTests.SmallSynthetic();
        var config = Config("stfpm", 2);
        config.Set("training.monitor=none");
        string output = Path.Combine(TestPaths.TempDir("trained-ensemble"), "out");
        var results = new AnomalyEngine().Train(config, ds, output, false).ToJson();
        var positions = results["training"]!["positions"]!.AsArray();
        Assert.Equal(2, positions.Count);
        Assert.All(positions, p => Assert.Equal(2, (int)p!["epochs"]!));
        Assert.Equal(4, (int)results["training"]!["epochs"]!);
        Assert.True(File.Exists(Path.Combine(output, "training", "position1", "metrics.csv")), "each position's log is kept in the output");

        using var trained = TrainedModel.Load(output);
        var ensemble = Assert.IsType<TiledEnsembleModel>(trained.Model);
        Assert.True(ensemble.Trains);

        // The references: two 64-px STFPMs made in the order the ensemble makes its members (the same seeded initial
        // weights), each trained by the same trainer on crops of its position cut here.
        var plainConfig = TrainedModelsTests.Small("stfpm", 64, 2);
        plainConfig.Set("data.batch_size=8");
        plainConfig.Set("training.monitor=none");
        manual_seed(42);
        var plain = new[] { TiledModels.Create(plainConfig), TiledModels.Create(plainConfig) };
        try
        {
            var train = ds.Train;
            var batcher = new Batcher(64, 128, 8);
            foreach (var (k, x) in new[] { (0, 0), (1, 64) })
            {
                IEnumerable<ImageBatch> Crops(IEnumerable<ImageBatch> batches)
                {
                    foreach (var b in batches)
                        using (b) yield return new ImageBatch(b.Samples, b.Images[.., .., .., x..(x + 64)].contiguous(), null,
                            b.OriginalSizes);
                }
                var fit = new FitData(train.Count, () => Crops(batcher.Enumerate(train, false)))
                {
                    BatchSize = 8,
                    Ordered = order => Crops(batcher.Enumerate(order.Select(i => train[i]).ToList(), false)),
                    Samples = train,
                };
                Trainer.Run((ITrainableModel)plain[k], TrainingOptions.FromConfig(plainConfig), fit, new TrainingRun { Seed = 42 });
                var a = plain[k].GetState();
                var b = ensemble.Members[k].GetState();
                Assert.Equal(a.Keys.Order(), b.Keys.Order());
                foreach (var key in a.Keys)
                    Assert.True(a[key].equal(b[key]).all().item<bool>(),
                        $"position {k}: '{key}' differs from a network trained on its tiles alone");
            }
        }
        finally { foreach (var m in plain) m.Dispose(); }
    }

    [Fact]
    public void AnEnsembleInterruptedInItsSecondPositionResumesToTheSameWeightsAndScores()
    {
        string dir = TestPaths.TempDir("trained-ensemble-resume");
        var ds = PadimTests.SmallSynthetic();
        var config = Config("reverse_distillation", 3); // the default monitor: each position's held-out tiles
        new AnomalyEngine().Train(config, ds, Path.Combine(dir, "straight"), false);

        using var cancel = new CancellationTokenSource();
        string output = Path.Combine(dir, "interrupted");
        var stopped = Assert.Throws<TrainingInterruptedException>(() =>
            new AnomalyEngine(new CancelDuringEpoch(cancel, "position 2/2: epoch 2/3", 16)).Train(config, ds, output, false,
                cancellation: cancel.Token));
        Assert.False(Directory.Exists(output), "no half-written output");
        Assert.Equal(Path.Combine(output + ".training", "position1", Trainer.LastFile), stopped.CheckpointPath);
        Assert.Equal(stopped.CheckpointPath, NetworkTraining.LastCheckpoint(output + ".training"));
        var state = Checkpoint.ReadHeader(stopped.CheckpointPath).State;
        Assert.Equal(1, state.Epoch);

        // Without --resume the folder is not taken over, and the message names the checkpoint to continue from.
        var refused = Assert.Throws<AnomalySharpException>(() => new AnomalyEngine().Train(config, ds, output, false));
        Assert.Contains(stopped.CheckpointPath, refused.Message);
        // A checkpoint that is not one of this ensemble's positions is refused, naming the expected place.
        var wrong = Assert.Throws<AnomalySharpException>(() => new AnomalyEngine().Train(config, ds, Path.Combine(dir, "elsewhere"),
            false, resume: stopped.CheckpointPath));
        Assert.Contains("position<k>", wrong.Message);

        var resumed = new AnomalyEngine().Train(config, ds, output, false, resume: stopped.CheckpointPath).ToJson();
        Assert.Equal(2, resumed["training"]!["positions"]!.AsArray().Count);
        TrainingDeterminismTests.AssertSameWeightsAndScores(Path.Combine(dir, "straight"), output);
    }

    [Fact]
    public void AMonitorThatJudgesWholeImagesIsRefusedNamingItsKey()
    {
        // FastFlow's default monitor scores synthetic defects on whole images; each ensemble model sees one position.
        var config = Config("fastflow", 1);
        string output = Path.Combine(TestPaths.TempDir("trained-ensemble-monitor"), "out");
        var e = Assert.Throws<AnomalySharpException>(() => new AnomalyEngine().Train(config, PadimTests.SmallSynthetic(), output, false));
        Assert.Contains("'training.monitor'", e.Message);
        Assert.Contains("holdout_loss", e.Message);
        Assert.False(Directory.Exists(output));
        Assert.False(Directory.Exists(output + ".training"));
    }
}
