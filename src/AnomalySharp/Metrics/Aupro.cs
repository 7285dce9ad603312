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
        if (walk.Negatives == 0) return (double.NaN, Array.Empty<double>(), Array.Empty<double>(), regions);
        var area = new AuproArea(walk.Negatives, fprLimit);
        foreach (var c in walk.Points(new Tensor?[] { weights }, thresholds: false))
            if (!area.Add(c.TruePositives[0], c.FalsePositives)) break;
        var (fpr, pro) = Curve(walk, weights, area, maxPoints);
        return (area.Normalized(), fpr, pro, regions);
    }

    /// <summary>
    /// The PRO curve up to the limit of a finished <paramref name="area"/> pass (which counted the points within it), thinned
    /// to at most <paramref name="maxPoints"/> evenly spaced points and closed at the limit: a second walk, up to the limit.
    /// </summary>
    internal static (double[] Fpr, double[] Pro) Curve(CurveWalk walk, Tensor weights, AuproArea area, int maxPoints)
    {
        using var guard = Diagnostics.NativeCallGuard.Enter();
        using var scope = NewDisposeScope();
        long inside = area.Inside, points = inside + (area.Beyond ? 1 : 0);
        long[] keep = points > maxPoints
            ? linspace(0, points - 1, maxPoints).round().to_type(ScalarType.Int64).data<long>().ToArray()
            : Enumerable.Range(0, (int)points).Select(i => (long)i).ToArray();
        var fprOut = new List<double>(); var proOut = new List<double>();
        int next = 0;
        if (keep[0] == 0) { fprOut.Add(0); proOut.Add(0); next = 1; }
        long index = 1;
        double negatives = walk.Negatives;
        foreach (var c in walk.Points(new Tensor?[] { weights }, thresholds: false))
        {
            if (next == keep.Length || index >= inside) break;
            using var s = NewDisposeScope();
            var fpr = c.FalsePositives / negatives;
            var pro = c.TruePositives[0];
            long len = fpr.numel(), within = Math.Min(len, inside - index);
            while (next < keep.Length && keep[next] < index + within)
            {
                fprOut.Add(fpr[keep[next] - index].item<double>()); proOut.Add(pro[keep[next] - index].item<double>());
                next++;
            }
            index += len;
        }
        if (area.Beyond && next < keep.Length) { fprOut.Add(area.Limit); proOut.Add(area.ProAtLimit); }
        return (fprOut.ToArray(), proOut.ToArray());
    }
}
