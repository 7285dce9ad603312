using static TorchSharp.torch;

namespace AnomalySharp.Metrics;

/// <summary>AUROC, AUPR and the best F1 with its threshold, in one walk of a <see cref="CurveWalk"/>.</summary>
internal sealed record CurveSummary(double Auroc, double Aupr, double F1Max, double F1Threshold)
{
    /// <summary>
    /// The three metrics of <paramref name="walk"/>'s scores against its masks (a pixel in a defect region is positive), with the formulas
    /// of
    /// <see cref="Metrics.Auroc"/>, <see cref="Metrics.Aupr"/> and <see cref="Metrics.F1Max"/> (NaN where they give NaN).
    /// </summary>
    public static CurveSummary Compute(CurveWalk walk)
    {
        using var guard = Diagnostics.NativeCallGuard.Enter(); // the arithmetic below passes implicit Scalars (see NativeCallGuard)
        double p = walk.PositivePixels, n = walk.Negatives;
        double auroc = 0, aupr = 0, bestF1 = double.NaN, bestThreshold = double.NaN;
        double prevTpr = 0, prevFpr = 0, prevRecall = 0, prevPrecision = 1;
        foreach (var c in walk.Points())
        {
            using var scope = NewDisposeScope();
            var tp = c.TruePositives; var fp = c.FalsePositives;
            if (p > 0 && n > 0)
            {
                var tpr = tp / p; var fpr = fp / n;
                auroc += CurveMath.Trapezoid(CurveMath.Prepend(tpr, prevTpr), CurveMath.Prepend(fpr, prevFpr));
                prevTpr = tpr[-1].item<double>(); prevFpr = fpr[-1].item<double>();
            }
            if (p > 0)
            {
                var precision = tp / (tp + fp); var recall = tp / p;
                aupr += CurveMath.Trapezoid(CurveMath.Prepend(precision, prevPrecision), CurveMath.Prepend(recall, prevRecall));
                prevPrecision = precision[-1].item<double>(); prevRecall = recall[-1].item<double>();
                var f1 = 2 * tp / (tp + fp + p);
                long best = f1.argmax().item<long>();
                double value = f1[best].item<double>();
                if (double.IsNaN(bestF1) || value > bestF1) { bestF1 = value; bestThreshold = c.Thresholds[best].item<float>(); }
            }
        }
        return new CurveSummary(p > 0 && n > 0 ? auroc : double.NaN, p > 0 ? aupr : double.NaN, p > 0 ? bestF1 : double.NaN,
            p > 0 ? bestThreshold : double.NaN);
    }
}
