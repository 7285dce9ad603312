using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Engine;
using AnomalySharp.Models.PatchCore;
using AnomalySharp.Packaging;
using AnomalySharp.Tiling;

namespace AnomalySharp.Tests.Models;

public class PatchCoreTests
{
    static AnomalySharp.Configuration.ConfigTree SmallConfig() => PadimTests.SmallConfig("patchcore");

    [Theory]
    [InlineData("texture")]
    [InlineData("object")]
    public void DetectsAndLocatesSyntheticDefects(string kind)
    {
        var results = new AnomalyEngine().Train(SmallConfig(), PadimTests.SmallSynthetic(kind),
            Path.Combine(TestPaths.TempDir("patchcore"), "out"), false).ToJson();
        Assert.True((double)results["image_auroc"]! >= 0.95, results.ToJsonString());
        Assert.True((double)results["pixel_auroc"]! >= 0.9, results.ToJsonString());
    }

    [Fact]
    public void SavedBankReloadsWithIdenticalScores()
    {
        var ds = PadimTests.SmallSynthetic();
        string dir = TestPaths.TempDir("patchcore-save");
        var config = SmallConfig();
        config.Set("model.bank_dtype=float16");
        new AnomalyEngine().Train(config, ds, Path.Combine(dir, "a"), false);
        using var a = TrainedModel.Load(Path.Combine(dir, "a"));
        using var b = TrainedModel.Load(Path.Combine(dir, "a", "model.anomalysharp"));
        Assert.Equal(TorchSharp.torch.ScalarType.Float16, a.Model.GetState()["memory_bank"].dtype);
        using var batch = new Batcher(128, 8).Enumerate(ds.Test.Take(8).ToList(), false).Single();
        var (mapsA, scoresA) = AnomalySharp.Tests.Export.RealDataModels.Normalized(a, batch.Images);
        var (mapsB, scoresB) = AnomalySharp.Tests.Export.RealDataModels.Normalized(b, batch.Images);
        Assert.Equal(scoresA, scoresB);
        Assert.Equal(mapsA, mapsB);
    }

    sealed class Messages : IProgressReporter
    {
        public List<string> Lines { get; } = new();
        public IProgressStep Start(string description, int total) => NullProgress.Instance;
        public void Message(string text) => Lines.Add(text);
    }

    [Fact]
    public void ATinyCoresetIsClampedWithAWarning()
    {
        var ds = PadimTests.SmallSynthetic();
        var config = SmallConfig();
        config.Set("model.coreset_ratio=0.000001");
        using var model = TiledModels.Create(config);
        var messages = new Messages();
        var batcher = new Batcher(128, 4);
        model.Fit(new FitData(4, () => batcher.Enumerate(ds.Train.Take(4).ToList(), false)), messages);
        Assert.Equal(1, model.GetState()["memory_bank"].shape[0]);
        Assert.Contains(messages.Lines, l => l.Contains("coreset_ratio"));
    }

    [Fact]
    public void AnOutOfMemoryRiskIsRefusedBeforeFitting()
    {
        var config = SmallConfig();
        config.Set("model.max_fit_memory_gb=0.001");
        using var model = (PatchCoreModel)TiledModels.Create(config);
        var ds = PadimTests.SmallSynthetic();
        var e = Assert.Throws<AnomalySharpException>(() =>
            model.Fit(new FitData(ds.Train.Count, () => throw new InvalidOperationException("must not start")), NullProgress.Instance));
        Assert.Contains("GiB", e.Message);
        Assert.Contains("model.max_fit_memory_gb", e.Message);
        Assert.True(model.EstimateFitBytes(762) > model.EstimateFitBytes(200));
    }
}
