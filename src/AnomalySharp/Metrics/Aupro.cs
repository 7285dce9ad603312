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
        if (fprLimit is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(fprLimit));
        using var scope = NewDisposeScope();
        long n = masks.shape[0];
        long h = masks.shape[^2], w = masks.shape[^1];
        var maskBytes = masks.reshape(n, h * w).gt(0.5).to_type(ScalarType.Byte).contiguous().data<byte>().ToArray();
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
        if (regions == 0) return (double.NaN, Array.Empty<double>(), Array.Empty<double>());
        foreach (var (offset, labels, sizes) in perImage)
            for (int p = 0; p < labels.Length; p++)
                if (labels[p] != 0) weights[offset + p] = (float)(1.0 / ((double)sizes[labels[p]] * regions));

        var labelsTensor = tensor(maskBytes).to_type(ScalarType.Bool);
        using var curve = BinaryCurve.Compute(maps.flatten(), labelsTensor, tensor(weights));
        if (curve.Negatives == 0) return (double.NaN, Array.Empty<double>(), Array.Empty<double>());
        var fpr = CurveMath.Prepend(curve.FalsePositives / curve.Negatives, 0);
        var pro = CurveMath.Prepend(curve.TruePositives, 0); // already a mean over regions

        // Keep the curve up to the limit and close it there by linear interpolation.
        long inside = fpr.le(fprLimit).sum().item<long>();
        var x = fpr.narrow(0, 0, inside);
        var y = pro.narrow(0, 0, inside);
        if (inside < fpr.numel())
        {
            double x0 = fpr[inside - 1].item<double>(), x1 = fpr[inside].item<double>();
            double y0 = pro[inside - 1].item<double>(), y1 = pro[inside].item<double>();
            double yl = x1 > x0 ? y0 + (y1 - y0) * (fprLimit - x0) / (x1 - x0) : y1;
            x = cat(new[] { x, tensor(new[] { fprLimit }, dtype: ScalarType.Float64) });
            y = cat(new[] { y, tensor(new[] { yl }, dtype: ScalarType.Float64) });
        }
        return (CurveMath.Trapezoid(y, x) / fprLimit, CurveMath.Thin(x, maxPoints), CurveMath.Thin(y, maxPoints));
    }
}
