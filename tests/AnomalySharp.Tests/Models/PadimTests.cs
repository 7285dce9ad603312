using AnomalySharp.Data;
using AnomalySharp.Engine;
using AnomalySharp.Inference;
using AnomalySharp.Models;
using AnomalySharp.Packaging;
using AnomalySharp.Tiling;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Models;

public class PadimTests
{
    internal static MvtecDataset SmallSynthetic(string kind = "texture") =>
        SyntheticDataset.Create(Path.Combine(Path.GetTempPath(), "anomalysharp-tests", $"synthetic-{kind}-small"),
            new SyntheticDataset.Options(Kind: SyntheticDataset.ParseKind(kind, "kind"), Seed: 42, ImageSize: 128, TrainCount: 40,
                TestGoodCount: 10, TestDefectCountPerType: 6));

    /// <summary>A model's defaults at 128 px without pictures: fast enough for unit tests.</summary>
    internal static AnomalySharp.Configuration.ConfigTree SmallConfig(string model = "padim")
    {
        var config = ModelRegistry.Defaults(model);
        config.Set("data.image_size=128");
        config.Set("visualization.save_images=false");
        return config;
    }

    [Theory]
    [InlineData("texture")]
    [InlineData("object")]
    public void DetectsAndLocatesSyntheticDefects(string kind)
    {
        var results = new AnomalyEngine().Train(SmallConfig(), SmallSynthetic(kind), Path.Combine(TestPaths.TempDir("padim"), "out"),
            false).ToJson();
        Assert.True((double)results["image_auroc"]! >= 0.95, results.ToJsonString());
        Assert.True((double)results["pixel_auroc"]! >= 0.9, results.ToJsonString());
        Assert.True((double)results["aupro"]! >= 0.7, results.ToJsonString());
    }

    [Fact]
    public void SavedModelReloadsWithIdenticalScoresAndSameSeedGivesSameModel()
    {
        var ds = SmallSynthetic();
        string dir = TestPaths.TempDir("padim-save");
        var engine = new AnomalyEngine();
        engine.Train(SmallConfig(), ds, Path.Combine(dir, "a"), false);
        engine.Train(SmallConfig(), ds, Path.Combine(dir, "b"), false);
        using var a = TrainedModel.Load(Path.Combine(dir, "a"));
        using var b = TrainedModel.Load(Path.Combine(dir, "b"));
        using var batch = new Batcher(128, 8).Enumerate(ds.Test.Take(8).ToList(), false).Single();
        var (mapsA, scoresA) = AnomalySharp.Tests.Export.RealDataModels.Normalized(a, batch.Images);
        var (mapsB, scoresB) = AnomalySharp.Tests.Export.RealDataModels.Normalized(b, batch.Images);
        Assert.Equal(scoresA, scoresB);
        Assert.Equal(mapsA, mapsB);
        Assert.Equal(a.Stats, b.Stats);
    }

    [Fact]
    public void FitMemoryDoesNotGrowWithTheNumberOfImages()
    {
        // The Gaussian keeps running sums only: its state is the same size after 8 or 40 images.
        var ds = SmallSynthetic();
        var config = SmallConfig();
        using var small = TiledModels.Create(config);
        using var large = TiledModels.Create(config);
        var batcher = new Batcher(128, 8);
        small.Fit(new FitData(8, () => batcher.Enumerate(ds.Train.Take(8).ToList(), false)),
            AnomalySharp.Diagnostics.NullProgress.Instance);
        large.Fit(new FitData(40, () => batcher.Enumerate(ds.Train, false)), AnomalySharp.Diagnostics.NullProgress.Instance);
        long Bytes(IAnomalyModel m) => m.GetState().Values.Sum(t => t.numel() * t.element_size());
        Assert.Equal(Bytes(small), Bytes(large));
        Assert.Equal(new long[] { 32 * 32, 100 * 101 / 2 }, large.GetState()["inverse_covariance_upper"].shape);
    }

    [Fact]
    public void APackageSavedWithFullInverseCovariancesScoresExactlyAsTheFittedModel()
    {
        // Packages written before the triangles were packed hold [P,C,C] under "inverse_covariance".
        using var guard = AnomalySharp.Diagnostics.NativeCallGuard.Enter();
        var ds = SmallSynthetic();
        var config = SmallConfig();
        using var fitted = TiledModels.Create(config);
        var batcher = new Batcher(128, 8);
        fitted.Fit(new FitData(16, () => batcher.Enumerate(ds.Train.Take(16).ToList(), false)),
            AnomalySharp.Diagnostics.NullProgress.Instance);
        var state = fitted.GetState();
        using var scope = NewDisposeScope();
        var packed = state["inverse_covariance_upper"];
        var full = packed.index_select(1,
            tensor(AnomalySharp.Components.MultivariateGaussian.UnpackIndex(100))).reshape(packed.shape[0], 100, 100);
        using var old = TiledModels.Create(config);
        old.LoadState(new Dictionary<string, Tensor>
        {
            ["selected_channels"] = state["selected_channels"].clone(),
            ["mean"] = state["mean"].clone(),
            ["inverse_covariance"] = full.clone(),
        });
        using var batch = batcher.Enumerate(ds.Test.Take(8).ToList(), false).Single();
        using var a = new InferenceGraph(fitted, 128, 1);
        using var b = new InferenceGraph(old, 128, 1);
        var (mapsA, scoresA) = a.Run(batch.Images);
        var (mapsB, scoresB) = b.Run(batch.Images);
        Assert.True(mapsA.eq(mapsB).all().item<bool>() && scoresA.eq(scoresB).all().item<bool>(),
            "an old package's model scores differently");
    }

    [Fact]
    public void AWorkingSizeWhoseGaussiansCannotBeOneOnnxFileIsRefusedBeforeTheFit()
    {
        // 448 features (every channel) at 320 px: 6,400 positions × 100,576 packed floats = 2.6 GB. Refused on the first
        // batch, before the 10 GB of float64 running sums are allocated.
        var config = SmallConfig();
        config.Set("data.image_size=320");
        config.Set("model.n_features=448");
        using var model = TiledModels.Create(config);
        var ds = SmallSynthetic();
        var batcher = new Batcher(320, 2);
        var e = Assert.Throws<AnomalySharpException>(() =>
            model.Fit(new FitData(2, () => batcher.Enumerate(ds.Train.Take(2).ToList(), false)),
                AnomalySharp.Diagnostics.NullProgress.Instance));
        Assert.Contains("'data.image_size'", e.Message);
        Assert.Contains("2 GB", e.Message);
    }
}
