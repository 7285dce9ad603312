using AnomalySharp.Components;
using AnomalySharp.Data;
using AnomalySharp.PostProcessing;
using static TorchSharp.torch;

namespace AnomalySharp.Engine;

/// <summary>
/// Thresholds from good images only (postprocessing.threshold false_alarm_rate): a seeded share of the normal training
/// images (data.normal_validation_fraction) is set aside before the fit and never fitted on; after the fit the model
/// scores them, and the image threshold is their split-conformal order statistic (<see cref="FalseAlarmThreshold"/>).
/// The pixel threshold is the same order statistic over their pixels, and the min-max statistics of normalization are
/// theirs too, so no defective image is needed anywhere.
/// </summary>
internal static class NormalCalibration
{
    /// <summary>
    /// Splits the training images into those to fit on and the calibration images, refusing (before any work) a split
    /// too small for the requested rate with a line that says how many images are needed.
    /// </summary>
    public static (IAnomalyDataset Fit, IReadOnlyList<AnomalySample> Calibration) Split(IAnomalyDataset dataset, EngineOptions options)
    {
        var train = dataset.Train;
        long needed = FalseAlarmThreshold.MinimumCount(options.FalseAlarmRate);
        int n = (int)Math.Round(train.Count * options.NormalValidationFraction);
        if (n < needed || train.Count - n < 1)
        {
            long total = (long)Math.Ceiling(needed / options.NormalValidationFraction);
            throw new AnomalySharpException(
                $"postprocessing.false_alarm_rate={options.FalseAlarmRate} needs at least {needed} held-out good images, and "
                + $"data.normal_validation_fraction={options.NormalValidationFraction} of the {train.Count} training images is {n}: "
                + $"add good images (about {Math.Max(total, needed + 1)} in all), raise data.normal_validation_fraction, or raise the "
                + $"rate to at least {1.0 / (n + 1):0.###}");
        }
        var order = Enumerable.Range(0, train.Count).ToArray();
        new Random(options.Seed).Shuffle(order);
        var held = order.Take(n).Order().ToHashSet();
        var calibration = held.Select(i => train[i]).ToList();
        var fit = train.Where((_, i) => !held.Contains(i)).ToList();
        return (new FitView(dataset, fit), calibration);
    }

    /// <summary>The thresholds and normalization statistics from the calibration images' scores and maps.</summary>
    public static (NormalizationStats Stats, ThresholdReport Report) Calibrate(EvaluationSet calibration, EngineOptions options)
    {
        using var scope = NewDisposeScope();
        using var guard = Diagnostics.NativeCallGuard.Enter();
        var scores = TensorSpan.Floats(calibration.Scores.contiguous()).ToArray();
        double imageThreshold = options.ImageThreshold ?? FalseAlarmThreshold.Compute(scores, options.FalseAlarmRate,
            "held-out good images");
        var (pixelThreshold, pixelMin, pixelMax, pixels) = PixelThreshold(calibration, options);
        var stats = new NormalizationStats(imageThreshold, pixelThreshold, scores.Min(), scores.Max(), pixelMin, pixelMax);
        var report = new ThresholdReport(ThresholdRule.FalseAlarmRate)
        {
            FalseAlarmRate = options.FalseAlarmRate,
            PixelFalseAlarmRate = options.PixelFalseAlarmRate,
            CalibrationImages = calibration.Samples.Select(s => s.ImagePath).ToList(),
            CalibrationFalseAlarmRate = FalseAlarmThreshold.Rate(scores, imageThreshold),
            CalibrationPixels = pixels,
            CalibrationScores = scores,
        };
        return (stats, report);
    }

    /// <summary>The pixel threshold (the order statistic over every calibration pixel), the maps' range, and the pixel count.</summary>
    static (double Threshold, float Min, float Max, long Pixels) PixelThreshold(EvaluationSet calibration, EngineOptions options)
    {
        var rows = new List<Tensor>();
        foreach (var (maps, _) in calibration.Rows()) rows.Add(maps.flatten().clone());
        var all = cat(rows).contiguous();
        long count = all.shape[0];
        float min = all.min().item<float>(), max = all.max().item<float>();
        if (options.PixelThreshold is { } manual) return (manual, min, max, count);
        long k = FalseAlarmThreshold.Rank(count, options.PixelFalseAlarmRate);
        if (k > count)
            throw new AnomalySharpException($"postprocessing.pixel_false_alarm_rate={options.PixelFalseAlarmRate} needs at least "
                + $"{FalseAlarmThreshold.MinimumCount(options.PixelFalseAlarmRate)} held-out good pixels, and there are {count}");
        float kth = all.kthvalue(Math.Max(1, k), 0, false).values.item<float>();
        return (MathF.BitIncrement(kth), min, max, count);
    }

    /// <summary>The dataset with its training images reduced to those the model fits on.</summary>
    sealed class FitView(IAnomalyDataset inner, IReadOnlyList<AnomalySample> fit) : IAnomalyDataset
    {
        public string Description => inner.Description;
        public string Root => inner.Root;
        public IReadOnlyList<AnomalySample> Train => fit;
        public IReadOnlyList<AnomalySample> Test => inner.Test;
        public bool HasMasks => inner.HasMasks;
    }
}
