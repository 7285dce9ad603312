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
            Path.Combine(TestPaths.TempDir("holdout"), "out"), false);
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
        var results = new AnomalyEngine().Train(Config("postprocessing.validation=none", "postprocessing.image_threshold=12.5", "postprocessing.pixel_threshold=7"), ds,
            Path.Combine(TestPaths.TempDir("none"), "out"), false);
        Assert.Equal(12.5, (double)results["image_threshold"]!);
        Assert.Equal(7.0, (double)results["pixel_threshold"]!);
    }
}
