using static TorchSharp.torch;

namespace AnomalySharp.Metrics;

/// <summary>
/// The area under a PRO curve up to a false-positive rate limit, taken chunk by chunk from a <see cref="CurveWalk"/> (so
/// that one walk can feed several curves): the trapezoids of the points within the limit, closed at the limit by linear
/// interpolation towards the first point beyond it. Also counts the points within the limit, which the thinned curve needs.
/// </summary>
internal sealed class AuproArea(double negatives, double fprLimit)
{
    double _area, _x0, _y0, _x1 = double.NaN, _y1 = double.NaN;

    /// <summary>Curve points within the limit, the origin included.</summary>
    public long Inside { get; private set; } = 1;

    /// <summary>Whether a point beyond the limit has been seen (no later chunk matters then).</summary>
    public bool Beyond { get; private set; }

    /// <summary>The false-positive rate limit.</summary>
    public double Limit => fprLimit;

    /// <summary>Takes one chunk: the cumulative overlap (already a mean over regions) and false positives; false once past the
    /// limit.</summary>
    public bool Add(Tensor pro, Tensor fp)
    {
        if (Beyond) return false;
        using var guard = Diagnostics.NativeCallGuard.Enter(); // the arithmetic below passes implicit Scalars (see NativeCallGuard)
        using var scope = NewDisposeScope();
        var fpr = fp / negatives;
        long len = fpr.numel(), within = fpr.le(fprLimit).sum().item<long>(); // a prefix: the rate only grows
        if (within > 0)
        {
            var x = fpr.narrow(0, 0, within); var y = pro.narrow(0, 0, within);
            _area += CurveMath.Trapezoid(CurveMath.Prepend(y, _y0), CurveMath.Prepend(x, _x0));
            _x0 = x[within - 1].item<double>(); _y0 = y[within - 1].item<double>();
        }
        Inside += within;
        if (within < len)
        {
            _x1 = fpr[within].item<double>(); _y1 = pro[within].item<double>();
            Beyond = true;
        }
        return !Beyond;
    }

    /// <summary>The overlap at the limit, interpolated (meaningful once <see cref="Beyond"/>).</summary>
    public double ProAtLimit => _x1 > _x0 ? _y0 + (_y1 - _y0) * (fprLimit - _x0) / (_x1 - _x0) : _y1;

    /// <summary>The area up to the limit, divided by the limit.</summary>
    public double Normalized() => (Beyond ? _area + (fprLimit - _x0) * ((ProAtLimit + _y0) * 0.5) : _area) / fprLimit;
}
