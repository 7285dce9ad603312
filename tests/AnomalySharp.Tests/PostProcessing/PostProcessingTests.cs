using AnomalySharp.PostProcessing;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.PostProcessing;

public class PostProcessingTests
{
    [Fact]
    public void NormalizationPutsTheThresholdAtOneHalfAndClamps()
    {
        var n = MinMaxNormalizer.Normalize(new[] { 0f, 5f, 10f, 20f, -50f }, threshold: 5, min: 0, max: 10);
        Assert.Equal(new[] { 0f, 0.5f, 1f, 1f, 0f }, n);
        Assert.Equal(0.75, MinMaxNormalizer.Normalize(7.5, 5, 0, 10), 9);
    }

    [Fact]
    public void CalibrationPicksF1AdaptiveThresholds()
    {
        var scores = tensor(new[] { 0.9f, 0.8f, 0.7f, 0.6f });
        var labels = tensor(new[] { 1f, 0f, 1f, 0f });
        var maps = tensor(new[] { 0.9f, 0.1f, 0.2f, 0.3f }).view(1, 1, 2, 2);
        var masks = tensor(new[] { 1f, 0f, 0f, 0f }).view(1, 1, 2, 2);
        var stats = ThresholdCalibrator.Calibrate(scores, labels, maps, masks);
        Assert.Equal(0.7, stats.ImageThreshold, 6);
        Assert.Equal(0.9, stats.PixelThreshold, 6);
        Assert.Equal(0.6, stats.ImageMin, 6);
        Assert.Equal(0.9, stats.ImageMax, 6);
        // Without masks the pixel threshold follows the image threshold; manual values win.
        Assert.Equal(0.7, ThresholdCalibrator.Calibrate(scores, labels, maps, null).PixelThreshold, 6);
        var manual = ThresholdCalibrator.Calibrate(scores, labels, maps, masks, 0.65, 0.5);
        Assert.Equal((0.65, 0.5), (manual.ImageThreshold, manual.PixelThreshold));
    }
}
