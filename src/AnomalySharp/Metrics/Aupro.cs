using static TorchSharp.torch;

namespace AnomalySharp.Metrics;

/// <summary>
/// Area under the per-region-overlap (PRO) curve up to a false-positive rate limit (default 0.3), normalized by
/// the limit. PRO at a threshold is the mean, over every connected defect region of every image, of the fraction
/// of the region above the threshold; the FPR counts pixels outside all regions. Computed from one sort: each
/// region pixel carries weight 1/(region size · number of regions). With a region size limit, only regions up to that
/// share of their image count (the small-defect AUPRO: what tiling and higher resolutions are for); larger regions'
/// pixels are then neither overlaps nor false positives.
/// </summary>
public static class Aupro
{
    /// <summary>AUPRO for maps [N,1,H,W] (or [N,H,W]) against 0/1 masks of the same shape; NaN without regions.</summary>
    public static double Compute(Tensor maps, Tensor masks, double fprLimit = 0.3) => ComputeWithCurve(maps, masks, fprLimit).Aupro;

    /// <summary>The share of an image's area under which a region counts as small (0.1%).</summary>
    public const double SmallRegionFraction = 0.001;

    /// <summary>
    /// The normalized area and the PRO curve itself up to <paramref name="fprLimit"/>, thinned to at most
    /// <paramref name="maxPoints"/> points (for plots). NaN and empty arrays without anomalous regions.
    /// </summary>
    public static (double Aupro, double[] Fpr, double[] Pro, int Regions) ComputeWithCurve(Tensor maps, Tensor masks,
        double fprLimit = 0.3, int maxPoints = 256)
    {
        using var walk = CurveWalk.Sort(maps, masks);
        return ComputeWithCurve(walk, fprLimit, maxPoints);
    }

    /// <summary>
    /// As <see cref="ComputeWithCurve(Tensor, Tensor, double, int)"/>, on maps and masks already sorted by a <see cref="CurveWalk"/>;
    /// regions larger than <paramref name="maxRegionFraction"/> of their image are left out (1: none is). Also returns the
    /// number of regions that counted.
    /// </summary>
    internal static (double Aupro, double[] Fpr, double[] Pro, int Regions) ComputeWithCurve(CurveWalk walk, double fprLimit = 0.3,
        int maxPoints = 256,
        double maxRegionFraction = 1)
    {
        if (fprLimit is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(fprLimit));
        using var guard = Diagnostics.NativeCallGuard.Enter(); // the arithmetic below passes implicit Scalars (see NativeCallGuard)
        using var scope = NewDisposeScope();
        var (weights, regions) = walk.RegionWeights(maxRegionFraction);
        if (regions == 0) return (double.NaN, Array.Empty<double>(), Array.Empty<double>(), 0);
        double negatives = walk.Negatives;
        if (negatives == 0) return (double.NaN, Array.Empty<double>(), Array.Empty<double>(), regions);

        // Pass 1: how many curve points (with the prepended origin) lie within the limit, and whether any lies beyond.
        long inside = 1, total = 1;
        foreach (var c in walk.Points(weights))
        {
            using var s = NewDisposeScope();
            if (total == inside) inside += (c.FalsePositives / negatives).le(fprLimit).sum().item<long>();
            total += c.Thresholds.numel();
        }
        bool beyond = inside < total;
        long points = inside + (beyond ? 1 : 0);
        long[] keep = points > maxPoints
            ? linspace(0, points - 1, maxPoints).round().to_type(ScalarType.Int64).data<long>().ToArray()
            : Enumerable.Range(0, (int)points).Select(i => (long)i).ToArray();

        // Pass 2: the area up to the limit, the thinned points, and the first point beyond the limit.
        double area = 0, x0 = 0, y0 = 0, x1 = double.NaN, y1 = double.NaN;
        var fprOut = new List<double>(); var proOut = new List<double>();
        int next = 0;
        if (keep[0] == 0) { fprOut.Add(0); proOut.Add(0); next = 1; }
        long index = 1;
        foreach (var c in walk.Points(weights))
        {
            using var s = NewDisposeScope();
            var fpr = c.FalsePositives / negatives;
            var pro = c.TruePositives; // already a mean over regions
            long len = fpr.numel(), within = Math.Min(len, inside - index);
            if (within > 0)
            {
                var x = fpr.narrow(0, 0, within); var y = pro.narrow(0, 0, within);
                area += CurveMath.Trapezoid(CurveMath.Prepend(y, y0), CurveMath.Prepend(x, x0));
                while (next < keep.Length && keep[next] < index + within)
                {
                    fprOut.Add(x[keep[next] - index].item<double>()); proOut.Add(y[keep[next] - index].item<double>());
                    next++;
                }
                x0 = x[within - 1].item<double>(); y0 = y[within - 1].item<double>();
            }
            if (within < len) { x1 = fpr[within].item<double>(); y1 = pro[within].item<double>(); break; }
            index += len;
        }
        if (beyond)
        {
            // Close the curve at the limit by linear interpolation.
            double yl = x1 > x0 ? y0 + (y1 - y0) * (fprLimit - x0) / (x1 - x0) : y1;
            area += (fprLimit - x0) * ((yl + y0) * 0.5);
            if (next < keep.Length) { fprOut.Add(fprLimit); proOut.Add(yl); }
        }
        return (area / fprLimit, fprOut.ToArray(), proOut.ToArray(), regions);
    }
}
