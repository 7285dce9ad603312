using static TorchSharp.torch;

namespace AnomalySharp.Metrics;

/// <summary>
/// Area under the per-region-overlap (PRO) curve up to a false-positive rate limit (default 0.3), normalized by
/// the limit. PRO at a threshold is the mean, over every connected defect region of every image, of the fraction
/// of the region above the threshold; the FPR counts pixels outside all regions. Computed from one sort: each
/// region pixel carries weight 1/(region size · number of regions).
/// </summary>
public static class Aupro
{
    /// <summary>AUPRO for maps [N,1,H,W] (or [N,H,W]) against 0/1 masks of the same shape; NaN without regions.</summary>
    public static double Compute(Tensor maps, Tensor masks, double fprLimit = 0.3) => ComputeWithCurve(maps, masks, fprLimit).Aupro;

    /// <summary>
    /// The normalized area and the PRO curve itself up to <paramref name="fprLimit"/>, thinned to at most
    /// <paramref name="maxPoints"/> points (for plots). NaN and empty arrays without anomalous regions.
    /// </summary>
    public static (double Aupro, double[] Fpr, double[] Pro) ComputeWithCurve(Tensor maps, Tensor masks, double fprLimit = 0.3, int maxPoints = 256)
    {
        using var walk = CurveWalk.Sort(maps);
        return ComputeWithCurve(walk, masks, fprLimit, maxPoints);
    }

    /// <summary>As <see cref="ComputeWithCurve(Tensor, Tensor, double, int)"/>, on maps already sorted by a <see cref="CurveWalk"/>.</summary>
    public static (double Aupro, double[] Fpr, double[] Pro) ComputeWithCurve(CurveWalk walk, Tensor masks, double fprLimit = 0.3, int maxPoints = 256)
    {
        if (fprLimit is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(fprLimit));
        using var scope = NewDisposeScope();
        var (maskBytes, weights, regions) = RegionWeights(masks);
        if (regions == 0) return (double.NaN, Array.Empty<double>(), Array.Empty<double>());
        var labelsTensor = tensor(maskBytes).to_type(ScalarType.Bool);
        var weightsTensor = tensor(weights);
        var (_, negatives) = CurveWalk.Totals(labelsTensor);
        if (negatives == 0) return (double.NaN, Array.Empty<double>(), Array.Empty<double>());

        // Pass 1: how many curve points (with the prepended origin) lie within the limit, and whether any lies beyond.
        long inside = 1, total = 1;
        foreach (var c in walk.Points(labelsTensor, weightsTensor))
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
        foreach (var c in walk.Points(labelsTensor, weightsTensor))
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
        return (area / fprLimit, fprOut.ToArray(), proOut.ToArray());
    }

    /// <summary>
    /// The masks as 0/1 bytes and each defect pixel's weight 1/(its region's size · number of regions), regions being
    /// 8-connected components per image; and the number of regions.
    /// </summary>
    internal static (byte[] Mask, float[] Weights, int Regions) RegionWeights(Tensor masks)
    {
        long n = masks.shape[0];
        long h = masks.shape[^2], w = masks.shape[^1];
        byte[] maskBytes;
        using (var flat = masks.reshape(n, h * w).gt(0.5).to_type(ScalarType.Byte).contiguous()) maskBytes = flat.data<byte>().ToArray();
        var weights = new float[maskBytes.Length];
        int plane = (int)(h * w), regions = 0;
        var perImage = new List<(int Offset, int[] Labels, int[] Sizes)>();
        for (int i = 0; i < n; i++)
        {
            var labels = ConnectedComponents.Label(maskBytes.AsSpan(i * plane, plane), (int)w, (int)h, out int count);
            if (count == 0) continue;
            var sizes = new int[count + 1];
            foreach (int l in labels) sizes[l]++;
            perImage.Add((i * plane, labels, sizes));
            regions += count;
        }
        foreach (var (offset, labels, sizes) in perImage)
            for (int p = 0; p < labels.Length; p++)
                if (labels[p] != 0) weights[offset + p] = (float)(1.0 / ((double)sizes[labels[p]] * regions));
        return (maskBytes, weights, regions);
    }
}
