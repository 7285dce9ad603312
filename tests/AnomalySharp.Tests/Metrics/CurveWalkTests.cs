using AnomalySharp.Metrics;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Metrics;

/// <summary>The chunked walk over one sort gives the metrics of the whole-curve computation, whatever the chunk size.</summary>
public class CurveWalkTests
{
    /// <summary>Scores with many ties (rounded to 1/64) and random labels, as maps [n,1,h,w] and masks.</summary>
    static (Tensor Maps, Tensor Masks) Data(int seed)
    {
        var gen = new Generator((ulong)seed);
        var maps = (rand(new long[] { 6, 1, 24, 24 }, generator: gen) * 64).round() / 64;
        // Blobs as defects: a few rectangles per image, overlapping high scores only partly.
        var masks = zeros(6, 1, 24, 24);
        var rng = new Random(seed);
        for (int i = 1; i < 6; i++)
            for (int r = 0; r < 2; r++)
            {
                int y = rng.Next(0, 20), x = rng.Next(0, 20);
                masks[i, 0, TensorIndex.Slice(y, y + rng.Next(1, 5)), TensorIndex.Slice(x, x + rng.Next(1, 5))] = tensor(1f);
            }
        maps = maps + masks * 0.2f; // defects score somewhat higher
        return (maps, masks);
    }

    [Theory]
    [InlineData(1, 7L)]
    [InlineData(2, 64L)]
    [InlineData(3, 1000L)]
    [InlineData(4, 1L << 22)]
    public void StreamedPixelMetricsEqualTheWholeCurve(int seed, long chunk)
    {
        var (positive, masks) = Data(seed);
        // Positive, mixed-sign (with −0 and +0 tied) and all-negative scores (FastFlow's maps are negative).
        foreach (var maps in new[] { positive, positive - 0.5f, positive - 2f })
            Check(maps.where(maps.ne(0), tensor(-0f)), masks, chunk);
    }

    static void Check(Tensor maps, Tensor masks, long chunk)
    {
        using var whole = BinaryCurve.Compute(maps, masks);
        using var walk = CurveWalk.Sort(maps, chunk);
        var s = CurveSummary.Compute(walk, masks);
        Assert.Equal(Auroc.Compute(whole), s.Auroc, 12);
        Assert.Equal(Aupr.Compute(whole), s.Aupr, 12);
        var (f1, threshold) = F1Max.Compute(whole);
        Assert.Equal(f1, s.F1Max, 12);
        Assert.Equal(threshold, s.F1Threshold);
    }

    /// <summary>AUPRO as it was computed before the walk: one weighted curve over all pixels, cut at the limit.</summary>
    static double ReferenceAupro(Tensor maps, Tensor masks, double limit)
    {
        // The region weights are unchanged by the walk; the curve and its cut at the limit are what is checked.
        var (positions, weights, _) = Aupro.RegionWeights(masks);
        using var dense = zeros(masks.numel(), dtype: ScalarType.Float32).index_put_(weights, positions);
        using var curve = BinaryCurve.Compute(maps.flatten(), masks.flatten().gt(0.5), dense);
        var fpr = cat(new[] { tensor(new[] { 0.0 }), curve.FalsePositives / curve.Negatives }).data<double>().ToArray();
        var pro = cat(new[] { tensor(new[] { 0.0 }), curve.TruePositives }).data<double>().ToArray();
        double area = 0;
        for (int i = 1; i < fpr.Length; i++)
        {
            if (fpr[i] > limit)
            {
                double yl = fpr[i] > fpr[i - 1] ? pro[i - 1] + (pro[i] - pro[i - 1]) * (limit - fpr[i - 1]) / (fpr[i] - fpr[i - 1]) : pro[i];
                return (area + (limit - fpr[i - 1]) * (yl + pro[i - 1]) * 0.5) / limit;
            }
            area += (fpr[i] - fpr[i - 1]) * (pro[i] + pro[i - 1]) * 0.5;
        }
        return area / limit;
    }

    [Theory]
    [InlineData(5, 7L, 0.3)]
    [InlineData(6, 50L, 0.05)]
    [InlineData(7, 1L << 22, 0.3)]
    [InlineData(8, 13L, 1.0)]
    public void StreamedAuproEqualsTheWholeCurveAndThinsTheSamePoints(int seed, long chunk, double limit)
    {
        var (maps, masks) = Data(seed);
        using var walk = CurveWalk.Sort(maps, chunk);
        var (aupro, fpr, pro, _) = Aupro.ComputeWithCurve(walk, masks, limit, maxPoints: 32);
        Assert.Equal(ReferenceAupro(maps, masks, limit), aupro, 10);
        using var single = CurveWalk.Sort(maps);
        var (same, fpr1, pro1, _) = Aupro.ComputeWithCurve(single, masks, limit, maxPoints: 32);
        Assert.Equal(same, aupro, 12);
        Assert.Equal(fpr1, fpr);
        Assert.Equal(pro1.Select(v => Math.Round(v, 12)), pro.Select(v => Math.Round(v, 12)));
        Assert.True(fpr.Length <= 32 && fpr[0] == 0 && Math.Abs(fpr[^1] - Math.Min(limit, fpr[^1])) < 1e-15);
    }
}
