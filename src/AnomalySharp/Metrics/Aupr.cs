using static TorchSharp.torch;

namespace AnomalySharp.Metrics;

/// <summary>Area under the precision-recall curve (trapezoidal, starting at recall 0 with precision 1, as anomalib).</summary>
public static class Aupr
{
    /// <summary>AUPR of scores against 0/1 labels; NaN without positives.</summary>
    public static double Compute(Tensor scores, Tensor labels)
    {
        using var curve = BinaryCurve.Compute(scores, labels);
        return Compute(curve);
    }

    /// <summary>AUPR from a precomputed curve.</summary>
    public static double Compute(BinaryCurve curve)
    {
        if (curve.Positives == 0) return double.NaN;
        using var guard = Diagnostics.NativeCallGuard.Enter(); // the arithmetic below passes implicit Scalars (see NativeCallGuard)
        using var scope = NewDisposeScope();
        var precision = CurveMath.Prepend(curve.TruePositives / (curve.TruePositives + curve.FalsePositives), 1);
        var recall = CurveMath.Prepend(curve.TruePositives / curve.Positives, 0);
        return CurveMath.Trapezoid(precision, recall);
    }
}
