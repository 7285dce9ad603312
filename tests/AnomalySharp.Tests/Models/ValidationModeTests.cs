using AnomalySharp.Engine;
using AnomalySharp.Models;

namespace AnomalySharp.Tests.Models;

public class ValidationModeTests
{
    static AnomalySharp.Configuration.ConfigTree Config(params string[] sets)
    {
        var config = ModelRegistry.Defaults("padim");
        config.Set("data.image_size=64");
        config.Set("visualization.save_images=false");
        foreach (string s in sets) config.Set(s);
        return config;
    }

    [Fact]
    public void HoldoutChoosesThresholdsOnAStratifiedShareAndReportsOnTheRest()
    {
        var ds = PadimTests.SmallSynthetic();
        var results = new AnomalyEngine().Train(Config("postprocessing.validation=holdout", "postprocessing.validation_fraction=0.5"), ds,
            Path.Combine(TestPaths.TempDir("holdout"), "out"), false).ToJson();
        int nVal = (int)results["n_validation"]!, nTest = (int)results["n_test"]!;
        Assert.Equal(ds.Test.Count, nVal + nTest);
        Assert.InRange(nVal, ds.Test.Count / 2 - 2, ds.Test.Count / 2 + 2);
    }

    [Fact]
    public void NoneUsesTheGivenRawThresholdsAndRequiresThem()
    {
        var ds = PadimTests.SmallSynthetic();
        var e = Assert.Throws<AnomalySharpException>(() => new AnomalyEngine().Train(Config("postprocessing.validation=none"), ds,
            Path.Combine(TestPaths.TempDir("none"), "out"), false));
        Assert.Contains("postprocessing.image_threshold", e.Message);
        var results = new AnomalyEngine().Train(Config("postprocessing.validation=none", "postprocessing.image_threshold=12.5",
            "postprocessing.pixel_threshold=7"), ds,
            Path.Combine(TestPaths.TempDir("none"), "out"), false).ToJson();
        Assert.Equal(12.5, (double)results["image_threshold"]!);
        Assert.Equal(7.0, (double)results["pixel_threshold"]!);
    }

    sealed class Steps : AnomalySharp.Diagnostics.IProgressReporter
    {
        public List<string> Started { get; } = new();
        public AnomalySharp.Diagnostics.IProgressStep Start(string description,
            int total)
        { Started.Add(description); return AnomalySharp.Diagnostics.NullProgress.Instance.Start(description, total); }
        public void Message(string text) { }
    }

    [Theory]
    [InlineData("postprocessing.validation=tset", "postprocessing.validation")]
    [InlineData("postprocessing.validation=none", "postprocessing.image_threshold")]
    [InlineData("postprocessing.validation_fraction=2", "postprocessing.validation_fraction")]
    [InlineData("visualization.save_images=maybe", "visualization.save_images")]
    public void ABadKeyFailsBeforeAnyWork(string set, string named)
    {
        // Until this check moved in front, a typo in postprocessing.validation surfaced only after the whole fit.
        var steps = new Steps();
        string output = Path.Combine(TestPaths.TempDir("bad-key"), "out");
        var e = Assert.Throws<AnomalySharpException>(() => new AnomalyEngine(steps).Train(Config(set), PadimTests.SmallSynthetic(),
            output, false));
        Assert.Contains(named, e.Message);
        Assert.Empty(steps.Started);
        Assert.False(Directory.Exists(output));
    }
}
