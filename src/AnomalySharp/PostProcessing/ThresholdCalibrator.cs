using AnomalySharp.Metrics;
using static TorchSharp.torch;

namespace AnomalySharp.PostProcessing;

/// <summary>Chooses thresholds (F1-adaptive, or given) and min-max statistics from validation predictions.</summary>
public static class ThresholdCalibrator
{
    /// <summary>
    /// F1-adaptive thresholds on validation data: the image threshold maximizes image-level F1; the pixel threshold
    /// maximizes pixel-level F1 when masks are given, else it equals the image threshold (as anomalib does).
    /// Manual raw thresholds, when given, replace the search.
    /// </summary>
    /// <param name="scores">Raw image scores [N].</param>
    /// <param name="labels">0/1 image labels [N].</param>
    /// <param name="maps">Raw maps [N,1,H,W].</param>
    /// <param name="masks">0/1 masks like <paramref name="maps"/>, or null.</param>
    /// <param name="manualImage">A raw image threshold to use instead of the search.</param>
    /// <param name="manualPixel">A raw pixel threshold to use instead of the search.</param>
    public static NormalizationStats Calibrate(Tensor scores, Tensor labels, Tensor maps, Tensor? masks, double? manualImage = null, double? manualPixel = null)
    {
        // Inside the guard: the comparisons and curve walks below pass implicit Scalars (see Diagnostics/NativeCallGuard).
        using var guard = Diagnostics.NativeCallGuard.Enter();
        double imageThreshold = manualImage ?? AdaptiveOrMax(scores, labels);
        double pixelThreshold = manualPixel ?? (masks is not null && masks.gt(0).any().item<bool>()
            ? PixelAdaptive(maps, masks)
            : imageThreshold);
        return new NormalizationStats(imageThreshold, pixelThreshold,
            scores.min().item<float>(), scores.max().item<float>(), maps.min().item<float>(), maps.max().item<float>());
    }

    /// <summary>The F1-maximizing threshold over every pixel (streamed: see <see cref="CurveWalk"/>); masks hold positives here.</summary>
    static double PixelAdaptive(Tensor maps, Tensor masks)
    {
        using var walk = CurveWalk.Sort(maps);
        return CurveSummary.Compute(walk, masks).F1Threshold;
    }

    /// <summary>The F1-maximizing threshold; without positives, the largest value (nothing flagged above it).</summary>
    static double AdaptiveOrMax(Tensor values, Tensor labels)
    {
        var (f1, threshold) = F1Max.Compute(values, labels);
        return double.IsNaN(f1) ? values.max().item<float>() : threshold;
    }
}
