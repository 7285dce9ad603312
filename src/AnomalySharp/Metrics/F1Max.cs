using static TorchSharp.torch;

namespace AnomalySharp.Metrics;

/// <summary>The best F1 score over all thresholds, and the threshold that reaches it (anomalib's F1-adaptive threshold).</summary>
public static class F1Max
{
    /// <summary>(best F1, its threshold) for scores against 0/1 labels; (NaN, NaN) without positives.</summary>
    public static (double F1, double Threshold) Compute(Tensor scores, Tensor labels)
    {
        using var curve = BinaryCurve.Compute(scores, labels);
        return Compute(curve);
    }

    /// <summary>From a precomputed curve.</summary>
    public static (double F1, double Threshold) Compute(BinaryCurve curve)
    {
        if (curve.Positives == 0) return (double.NaN, double.NaN);
        using var guard = Diagnostics.NativeCallGuard.Enter(); // the arithmetic below passes implicit Scalars (see NativeCallGuard)
        using var scope = NewDisposeScope();
        var tp = curve.TruePositives;
        // F1 = 2TP / (2TP + FP + FN) = 2TP / (TP + FP + P)
        var f1 = 2 * tp / (tp + curve.FalsePositives + curve.Positives);
        long best = f1.argmax().item<long>();
        return (f1[best].item<double>(), curve.Thresholds[best].item<float>());
    }
}
