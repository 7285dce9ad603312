using AnomalySharp.Metrics;
using static TorchSharp.torch;

namespace AnomalySharp.PostProcessing;

/// <summary>Chooses thresholds (F1-adaptive, or given) and min-max statistics from validation predictions.</summary>
internal static class ThresholdCalibrator
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
    public static NormalizationStats Calibrate(Tensor scores, Tensor labels, Tensor maps, Tensor? masks, double? manualImage = null,
        double? manualPixel = null) =>
        Calibrate(scores, labels, new TensorPixels(maps, masks), manualImage, manualPixel);

    /// <summary>
    /// As <see cref="Calibrate(Tensor, Tensor, Tensor, Tensor?, double?, double?)"/>, reading maps and masks from
    /// <paramref name="pixels"/> image by image and sorting pixels in runs of <paramref name="runLength"/> (see <see cref="CurveWalk"/>).
    /// <paramref name="sorted"/>, when given, is those pixels already sorted (kept open: the caller disposes it), so that
    /// the metrics of the same images reuse the sort and the F1 walk.
    /// </summary>
    public static NormalizationStats Calibrate(Tensor scores, Tensor labels, IPixelSource pixels, double? manualImage = null,
        double? manualPixel = null,
        long runLength = CurveWalk.DefaultRunLength, CurveWalk? sorted = null)
    {
        // Inside the guard: the comparisons and curve walks below pass implicit Scalars (see Diagnostics/NativeCallGuard).
        using var guard = Diagnostics.NativeCallGuard.Enter();
        double imageThreshold = manualImage ?? AdaptiveOrMax(scores, labels);
        float mapMin, mapMax;
        double pixelThreshold;
        if (pixels.HasMasks && manualPixel is null)
        {
            // One sort gives the F1-maximizing threshold over every pixel and the maps' range (streamed: see CurveWalk).
            (pixelThreshold, mapMin, mapMax) = CurveWalk.With(sorted, pixels, runLength, walk =>
                (walk.PositivePixels > 0 ? walk.Summary.F1Threshold : imageThreshold, walk.Min, walk.Max));
        }
        else
        {
            pixelThreshold = manualPixel ?? imageThreshold;
            (mapMin, mapMax) = Range(pixels);
        }
        return new NormalizationStats(imageThreshold, pixelThreshold, scores.min().item<float>(), scores.max().item<float>(), mapMin,
            mapMax);
    }

    /// <summary>The smallest and largest map value, image by image.</summary>
    static (float Min, float Max) Range(IPixelSource pixels)
    {
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        foreach (var (maps, _) in pixels.Rows())
        {
            using var scope = NewDisposeScope();
            min = Math.Min(min, maps.min().item<float>());
            max = Math.Max(max, maps.max().item<float>());
        }
        return (min, max);
    }

    /// <summary>
    /// The F1-maximizing threshold. Without defective images there is none: anomalib silently takes the largest score
    /// then; here it is an error that names the method that needs no defects.
    /// </summary>
    static double AdaptiveOrMax(Tensor values, Tensor labels)
    {
        var (f1, threshold) = F1Max.Compute(values, labels);
        if (double.IsNaN(f1))
            throw new AnomalySharpException("postprocessing.threshold=f1: the validation images hold no defective image, so no F1 "
                + "threshold exists; use postprocessing.threshold=false_alarm_rate (thresholds from good images only)");
        return threshold;
    }
}
