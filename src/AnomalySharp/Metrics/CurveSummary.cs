using static TorchSharp.torch;

namespace AnomalySharp.Metrics;

/// <summary>AUROC, AUPR and the best F1 with its threshold, in one walk of a <see cref="CurveWalk"/>.</summary>
internal sealed record CurveSummary(double Auroc, double Aupr, double F1Max, double F1Threshold)
{
    /// <summary>
    /// The three metrics of <paramref name="walk"/>'s scores against its masks (a pixel in a defect region is positive), with the
    /// formulas of <see cref="Metrics.Auroc"/>, <see cref="Metrics.Aupr"/> and <see cref="Metrics.F1Max"/> (NaN where they give NaN).
    /// </summary>
    public static CurveSummary Compute(CurveWalk walk)
    {
        using var guard = Diagnostics.NativeCallGuard.Enter(); // the arithmetic below passes implicit Scalars (see NativeCallGuard)
        var builder = new Builder(walk);
        foreach (var c in walk.Points(new Tensor?[] { null })) builder.Add(c.TruePositives[0], c.FalsePositives, c.Thresholds!);
        return builder.Result();
    }

    /// <summary>Takes the curve chunk by chunk (so that one walk can feed other curves too) and gives the summary at the end.</summary>
    internal sealed class Builder(CurveWalk walk)
    {
        readonly double _p = walk.PositivePixels, _n = walk.Negatives;
        double _auroc, _aupr, _bestF1 = double.NaN, _bestThreshold = double.NaN;
        double _prevTpr, _prevFpr, _prevRecall, _prevPrecision = 1;

        /// <summary>One chunk: cumulative true and false positives (counts) and the thresholds.</summary>
        public void Add(Tensor tp, Tensor fp, Tensor thresholds)
        {
            using var guard = Diagnostics.NativeCallGuard.Enter();
            using var scope = NewDisposeScope();
            if (_p > 0 && _n > 0)
            {
                var tpr = tp / _p; var fpr = fp / _n;
                _auroc += CurveMath.Trapezoid(CurveMath.Prepend(tpr, _prevTpr), CurveMath.Prepend(fpr, _prevFpr));
                _prevTpr = tpr[-1].item<double>(); _prevFpr = fpr[-1].item<double>();
            }
            if (_p > 0)
            {
                var precision = tp / (tp + fp); var recall = tp / _p;
                _aupr += CurveMath.Trapezoid(CurveMath.Prepend(precision, _prevPrecision), CurveMath.Prepend(recall, _prevRecall));
                _prevPrecision = precision[-1].item<double>(); _prevRecall = recall[-1].item<double>();
                var f1 = 2 * tp / (tp + fp + _p);
                long best = f1.argmax().item<long>();
                double value = f1[best].item<double>();
                if (double.IsNaN(_bestF1) || value > _bestF1) { _bestF1 = value; _bestThreshold = thresholds[best].item<float>(); }
            }
        }

        /// <summary>The summary of every chunk added.</summary>
        public CurveSummary Result() => new(_p > 0 && _n > 0 ? _auroc : double.NaN, _p > 0 ? _aupr : double.NaN,
            _p > 0 ? _bestF1 : double.NaN, _p > 0 ? _bestThreshold : double.NaN);
    }
}
