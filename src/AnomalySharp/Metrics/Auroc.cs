using static TorchSharp.torch;

namespace AnomalySharp.Metrics;

/// <summary>Area under the ROC curve (exact, ties handled as one step).</summary>
public static class Auroc
{
    /// <summary>AUROC of scores against 0/1 labels; NaN when only one class is present.</summary>
    public static double Compute(Tensor scores, Tensor labels)
    {
        using var curve = BinaryCurve.Compute(scores, labels);
        return Compute(curve);
    }

    /// <summary>AUROC from a precomputed curve.</summary>
    public static double Compute(BinaryCurve curve)
    {
        if (curve.Positives == 0 || curve.Negatives == 0) return double.NaN;
        using var guard = Diagnostics.NativeCallGuard.Enter(); // the arithmetic below passes implicit Scalars (see NativeCallGuard)
        using var scope = NewDisposeScope();
        var tpr = CurveMath.Prepend(curve.TruePositives / curve.Positives, 0);
        var fpr = CurveMath.Prepend(curve.FalsePositives / curve.Negatives, 0);
        return CurveMath.Trapezoid(tpr, fpr);
    }
}
