using static TorchSharp.torch;

namespace AnomalySharp.Metrics;

/// <summary>Small helpers for curves held as tensors.</summary>
internal static class CurveMath
{
    /// <summary>Trapezoidal area under y(x) for ascending x (float64 tensors).</summary>
    public static double Trapezoid(Tensor y, Tensor x)
    {
        if (x.numel() < 2) return 0;
        using var scope = NewDisposeScope();
        long n = x.numel();
        var dx = x.narrow(0, 1, n - 1) - x.narrow(0, 0, n - 1);
        var my = (y.narrow(0, 1, n - 1) + y.narrow(0, 0, n - 1)) * 0.5;
        return (dx * my).sum().item<double>();
    }

    /// <summary>Prepends a value to a 1-D float64 tensor.</summary>
    public static Tensor Prepend(Tensor t, double value) => cat(new[] { tensor(new[] { value }, dtype: ScalarType.Float64), t });

    /// <summary>At most <paramref name="maxPoints"/> evenly spaced values of a 1-D tensor (first and last kept), as doubles.</summary>
    public static double[] Thin(Tensor values, int maxPoints)
    {
        using var scope = NewDisposeScope();
        long n = values.numel();
        if (n == 0) return Array.Empty<double>();
        var v = values.to_type(ScalarType.Float64);
        if (n > maxPoints) v = v.index_select(0, linspace(0, n - 1, maxPoints).round().to_type(ScalarType.Int64));
        return v.data<double>().ToArray();
    }
}
