using AnomalySharp.Data;
using AnomalySharp.Engine;
using AnomalySharp.Models;

namespace AnomalySharp.Tests.Integration;

/// <summary>Accuracy floors on real data (../shared/data). These fail, never skip, when the data is absent.</summary>
public class MagneticTileTests
{
    [Fact]
    public void PadimWithDefaultsBeatsThePyTorchReferenceOnMagneticTile()
    {
        // The full data set (762 training, 582 test images) at anomalib's defaults: 256 px, seed 42.
        var ds = new MvtecDataset(TestPaths.SharedData("magnetic_tile"));
        var config = ModelRegistry.Defaults("padim");
        config.Set("visualization.save_images=false");
        var results = new AnomalyEngine().Train(config, ds, Path.Combine(TestPaths.TempDir("mt-padim"), "out"), false);
        // A straightforward PyTorch implementation on the same weights measured 0.908 / 0.732.
        Assert.True((double)results["image_auroc"]! >= 0.91, results.ToJsonString());
        Assert.True((double)results["pixel_auroc"]! >= 0.735, results.ToJsonString());
        Assert.True((double)results["aupro"]! >= 0.70, results.ToJsonString());
        // Fit memory is a benchmark figure (bench/AnomalySharp.Bench): this process runs other tests beside it.
    }
}
