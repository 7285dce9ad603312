using AnomalySharp.Metrics;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Metrics;

/// <summary>
/// The chunked walk over one sort gives the metrics of the whole-curve computation, whatever the chunk size, and
/// whether its runs stay in memory or are spilled to a file and merged.
/// </summary>
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
    [InlineData(1, 7L, CurveWalk.DefaultRunLength)]
    [InlineData(2, 64L, CurveWalk.DefaultRunLength)]
    [InlineData(3, 1000L, CurveWalk.DefaultRunLength)]
    [InlineData(4, 1L << 22, CurveWalk.DefaultRunLength)]
    [InlineData(9, 64L, 100L)]   // 35 runs merged from a file, chunks shorter than a run
    [InlineData(10, 1000L, 577L)] // 6 runs (the last one short), chunks longer than a run
    [InlineData(11, 7L, 2L)]      // a run of two keys: the merge at its most fragmented
    public void StreamedPixelMetricsEqualTheWholeCurve(int seed, long chunk, long runLength)
    {
        var (positive, masks) = Data(seed);
        // Positive, mixed-sign (with −0 and +0 tied) and all-negative scores (FastFlow's maps are negative).
        foreach (var maps in new[] { positive, positive - 0.5f, positive - 2f })
            Check(maps.where(maps.ne(0), tensor(-0f)), masks, chunk, runLength);
    }

    static void Check(Tensor maps, Tensor masks, long chunk, long runLength)
    {
        using var whole = BinaryCurve.Compute(maps, masks);
        using var walk = CurveWalk.Sort(maps, masks, chunk, runLength);
        Assert.Equal(runLength < maps.numel(), walk.Spilled);
        Assert.Equal((maps.min().item<float>(), maps.max().item<float>()), (walk.Min, walk.Max));
        var s = CurveSummary.Compute(walk);
        Assert.Equal(Auroc.Compute(whole), s.Auroc, 12);
        Assert.Equal(Aupr.Compute(whole), s.Aupr, 12);
        var (f1, threshold) = F1Max.Compute(whole);
        Assert.Equal(f1, s.F1Max, 12);
        Assert.Equal(threshold, s.F1Threshold);
    }

    /// <summary>AUPRO as it was computed before the walk: one weighted curve over all pixels, cut at the limit.</summary>
    static double ReferenceAupro(Tensor maps, Tensor masks, double limit)
    {
        // One weight per pixel: 1/(its region's size · number of regions), regions labelled image by image.
        long n = masks.shape[0], plane = masks.shape[^1] * masks.shape[^2];
        var perImage = new List<(int[] Labels, int Count)>();
        for (long i = 0; i < n; i++)
        {
            var bytes = masks[i].flatten().gt(0.5).to_type(ScalarType.Byte).data<byte>().ToArray();
            var labels = ConnectedComponents.Label(bytes, (int)masks.shape[^1], (int)masks.shape[^2], out int count);
            perImage.Add((labels, count));
        }
        int regions = perImage.Sum(p => p.Count);
        var weight = new float[n * plane];
        for (int i = 0; i < n; i++)
        {
            var (labels, count) = perImage[i];
            var size = new int[count + 1];
            foreach (int l in labels) size[l]++;
            for (int p = 0; p < plane; p++)
                if (labels[p] != 0) weight[i * plane + p] = (float)(1.0 / ((double)size[labels[p]] * regions));
        }
        using var dense = tensor(weight);
        using var curve = BinaryCurve.Compute(maps.flatten(), masks.flatten().gt(0.5), dense);
        var fpr = cat(new[] { tensor(new[] { 0.0 }), curve.FalsePositives / curve.Negatives }).data<double>().ToArray();
        var pro = cat(new[] { tensor(new[] { 0.0 }), curve.TruePositives }).data<double>().ToArray();
        double area = 0;
        for (int i = 1; i < fpr.Length; i++)
        {
            if (fpr[i] > limit)
            {
                double yl = fpr[i] > fpr[i - 1]
                    ? pro[i - 1] + (pro[i] - pro[i - 1]) * (limit - fpr[i - 1]) / (fpr[i] - fpr[i - 1]) : pro[i];
                return (area + (limit - fpr[i - 1]) * (yl + pro[i - 1]) * 0.5) / limit;
            }
            area += (fpr[i] - fpr[i - 1]) * (pro[i] + pro[i - 1]) * 0.5;
        }
        return area / limit;
    }

    [Theory]
    [InlineData(5, 7L, 0.3, CurveWalk.DefaultRunLength)]
    [InlineData(6, 50L, 0.05, CurveWalk.DefaultRunLength)]
    [InlineData(7, 1L << 22, 0.3, CurveWalk.DefaultRunLength)]
    [InlineData(8, 13L, 1.0, CurveWalk.DefaultRunLength)]
    [InlineData(12, 50L, 0.3, 333L)]
    [InlineData(13, 4096L, 1.0, 1000L)]
    public void StreamedAuproEqualsTheWholeCurveAndThinsTheSamePoints(int seed, long chunk, double limit, long runLength)
    {
        var (maps, masks) = Data(seed);
        using var walk = CurveWalk.Sort(maps, masks, chunk, runLength);
        var (aupro, fpr, pro, _) = Aupro.ComputeWithCurve(walk, limit, maxPoints: 32);
        Assert.Equal(ReferenceAupro(maps, masks, limit), aupro, 10);
        using var single = CurveWalk.Sort(maps, masks);
        var (same, fpr1, pro1, _) = Aupro.ComputeWithCurve(single, limit, maxPoints: 32);
        Assert.Equal(same, aupro, 12);
        Assert.Equal(fpr1, fpr);
        Assert.Equal(pro1.Select(v => Math.Round(v, 12)), pro.Select(v => Math.Round(v, 12)));
        Assert.True(fpr.Length <= 32 && fpr[0] == 0 && Math.Abs(fpr[^1] - Math.Min(limit, fpr[^1])) < 1e-15);
    }
}
