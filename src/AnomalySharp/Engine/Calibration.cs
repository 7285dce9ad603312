using AnomalySharp.Data;
using AnomalySharp.PostProcessing;

namespace AnomalySharp.Engine;

/// <summary>
/// Where thresholds and min-max statistics come from (postprocessing.validation): the test images themselves, a
/// seeded stratified holdout of them (then left out of the reported metrics), or raw values given in the configuration.
/// </summary>
internal static class Calibration
{
    /// <summary>(validation set, or null when it is the whole set; evaluation set).</summary>
    public static (EvaluationSet? Validation, EvaluationSet Evaluation) Split(EngineOptions options, EvaluationSet all)
    {
        if (options.Validation != ValidationSource.Holdout) return (null, all);
        var (val, eval) = SplitIndices(options, all.Samples);
        return (all.Subset(val), all.Subset(eval));
    }

    /// <summary>The seeded, stratified holdout split of test samples: (validation indices, evaluation indices), ascending.</summary>
    public static (List<int> Validation, List<int> Evaluation) SplitIndices(EngineOptions options, IReadOnlyList<AnomalySample> samples)
    {
        var rng = new Random(options.Seed);
        var val = new List<int>(); var eval = new List<int>();
        foreach (bool anomalous in new[] { false, true }) // stratified, so both parts hold both kinds
        {
            var idx = Enumerable.Range(0, samples.Count).Where(i => samples[i].IsAnomalous == anomalous).ToArray();
            rng.Shuffle(idx);
            int n = Math.Max(1, (int)Math.Round(idx.Length * options.ValidationFraction));
            if (n >= idx.Length) throw new AnomalySharpException($"postprocessing.validation=holdout: too few "
                + $"{(anomalous ? "defective" : "normal")} test images ({idx.Length}) to hold some out");
            val.AddRange(idx.Take(n)); eval.AddRange(idx.Skip(n));
        }
        val.Sort(); eval.Sort();
        return (val, eval);
    }

    /// <summary>The thresholds and statistics from a validation set (F1-adaptive unless given as raw values).</summary>
    public static NormalizationStats Calibrate(EngineOptions options, EvaluationSet set, Metrics.CurveWalk? sorted = null) =>
        ThresholdCalibrator.Calibrate(set.Scores, set.Labels, set, options.ImageThreshold, options.PixelThreshold,
            options.SortRunLength, sorted);
}
