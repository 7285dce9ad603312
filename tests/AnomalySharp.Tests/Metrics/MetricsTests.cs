using AnomalySharp.Metrics;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Metrics;

public class MetricsTests
{
    static Tensor T(params float[] v) => tensor(v);

    [Fact]
    public void AurocMatchesHandComputedValues()
    {
        // Pairs (pos, neg): (0.35 vs 0.1) win, (0.35 vs 0.4) loss, 0.8 wins both: 3 of 4.
        Assert.Equal(0.75, Auroc.Compute(T(0.1f, 0.4f, 0.35f, 0.8f), T(0, 0, 1, 1)), 12);
        Assert.Equal(1.0, Auroc.Compute(T(0.1f, 0.2f, 0.8f, 0.9f), T(0, 0, 1, 1)), 12);
        Assert.Equal(0.0, Auroc.Compute(T(0.9f, 0.8f, 0.2f, 0.1f), T(0, 0, 1, 1)), 12);
        // All tied: a single diagonal step, 0.5.
        Assert.Equal(0.5, Auroc.Compute(T(0.5f, 0.5f, 0.5f, 0.5f), T(0, 1, 0, 1)), 12);
        // A tie between one positive and one negative counts half.
        Assert.Equal(0.875, Auroc.Compute(T(0.1f, 0.5f, 0.5f, 0.9f), T(0, 0, 1, 1)), 12);
        Assert.True(double.IsNaN(Auroc.Compute(T(0.1f, 0.2f), T(1, 1))));
    }

    [Fact]
    public void AuprAndF1MaxMatchHandComputedValues()
    {
        var scores = T(0.9f, 0.8f, 0.7f, 0.6f);
        var labels = T(1, 0, 1, 0);
        // precision/recall: (1,.5) (.5,.5) (.667,1) (.5,1), from (recall 0, precision 1): .5 + .5·(.5+.6667)/2
        Assert.Equal(0.5 + 0.5 * (0.5 + 2.0 / 3) / 2, Aupr.Compute(scores, labels), 6);
        var (f1, threshold) = F1Max.Compute(scores, labels);
        Assert.Equal(0.8, f1, 6);
        Assert.Equal(0.7, threshold, 6);
    }

    [Fact]
    public void AuproAveragesOverRegionsAndStopsAtTheFprLimit()
    {
        // One region of two pixels; negatives score 0.8 and 0.1.
        var maps = T(0.9f, 0.2f, 0.8f, 0.1f).view(1, 1, 1, 4);
        var masks = T(1, 1, 0, 0).view(1, 1, 1, 4);
        Assert.Equal(0.5, Aupro.Compute(maps, masks, 0.3), 6);
        Assert.Equal(0.75, Aupro.Compute(maps, masks, 1.0), 6);

        // Two regions (sizes 1 and 3): each counts equally, so the small one weighs three times more per pixel.
        var maps2 = T(0.9f, 0.5f, 0.8f, 0.1f, 0.1f, 0.05f).view(1, 1, 1, 6);
        var masks2 = T(1, 0, 1, 1, 1, 0).view(1, 1, 1, 6);
        Assert.Equal(0.5 * (2.0 / 3) + 0.5 * 1.0, Aupro.Compute(maps2, masks2, 1.0), 6);
        // Up to FPR 0.3 the curve sits at PRO 2/3.
        Assert.Equal(2.0 / 3, Aupro.Compute(maps2, masks2, 0.3), 6);
    }

    [Fact]
    public void SmallRegionAuproCountsOnlyRegionsUnderAThousandthOfTheImage()
    {
        // A 40 x 50 image (2,000 pixels, so 2 at most for a small region): region A is one pixel, found above every
        // normal pixel (0.5); region B is ten pixels, half of them found (0.95), half missed (0.0).
        var maps = full(1, 1, 40, 50, 0.5f);
        var masks = zeros(1, 1, 40, 50);
        masks[0, 0, 5, 5] = tensor(1f); maps[0, 0, 5, 5] = tensor(0.9f);
        for (int x = 20; x < 30; x++) { masks[0, 0, 30, x] = tensor(1f); maps[0, 0, 30, x] = tensor(x < 25 ? 0.95f : 0f); }
        using var walk = CurveWalk.Sort(maps, masks);
        Assert.Equal(0.75, Aupro.ComputeWithCurve(walk).Aupro, 6);
        // Only A counts, fully found at FPR 0; B's pixels are neither overlaps nor false positives (as false
        // positives, its five pixels at 0.95 would put the curve's rise at FPR 5/1994 and the area at 0.992).
        var small = Aupro.ComputeWithCurve(walk, maxRegionFraction: Aupro.SmallRegionFraction);
        Assert.Equal(1.0, small.Aupro, 6);
        Assert.Equal(1, small.Regions);
        Assert.Equal(2, Aupro.ComputeWithCurve(walk).Regions);
        // No region small enough: undefined, not 0.
        masks[0, 0, 5, 5] = tensor(0f);
        using var without = CurveWalk.Sort(maps, masks);
        Assert.True(double.IsNaN(Aupro.ComputeWithCurve(without, maxRegionFraction: Aupro.SmallRegionFraction).Aupro));
    }

    [Fact]
    public void AuproIsNanWithoutRegionsAndOneForAPerfectMap()
    {
        Assert.True(double.IsNaN(Aupro.Compute(zeros(2, 1, 4, 4), zeros(2, 1, 4, 4))));
        var masks = zeros(1, 1, 8, 8);
        masks[0, 0, 2, 2] = tensor(1f); masks[0, 0, 5, 5] = tensor(1f); masks[0, 0, 5, 6] = tensor(1f);
        Assert.Equal(1.0, Aupro.Compute(masks.clone(), masks), 9);
    }

    [Fact]
    public void ConnectedComponentsUseEightNeighbours()
    {
        byte[] mask =
        {
            1, 0, 0, 1,
            0, 1, 0, 1,
            0, 0, 0, 0,
            1, 1, 0, 0,
        };
        var labels = ConnectedComponents.Label(mask, 4, 4, out int count);
        Assert.Equal(3, count); // the diagonal pair joins; the right column; the bottom pair
        Assert.Equal(labels[0], labels[5]);
        Assert.NotEqual(labels[0], labels[3]);
    }

    [Fact]
    public void PixelMetricsHandleMillionsOfPixelsFromOneSort()
    {
        var gen = new Generator(3);
        var masks = rand(new long[] { 40, 1, 256, 256 }, generator: gen).gt(0.97).to_type(ScalarType.Float32);
        var maps = masks * 0.3f + rand(new long[] { 40, 1, 256, 256 }, generator: gen);
        double auroc = Auroc.Compute(maps, masks);
        Assert.InRange(auroc, 0.75, 0.95); // a noisy but informative map (2.6 million pixels)
        Assert.InRange(Aupro.Compute(maps, masks), 0.05, 1.0);
    }
}
