using System.Diagnostics;
using AnomalySharp.Metrics;
using static TorchSharp.torch;

namespace AnomalySharp.Bench;

/// <summary>
/// The pixel metrics at the size of a real evaluation (default: magnetic_tile's 582 test images at 256², 38 M pixels):
/// seconds for the one sort and for each walk (AUROC/AUPR/F1, AUPRO, small-region AUPRO), and for MetricReport.Compute
/// as a whole. Maps and masks are synthetic and seeded: smooth noise, and on half the images one to three elliptic
/// defects that the map raises.
/// </summary>
internal static class MetricsBench
{
    public static int Run(int threads, int images, int size)
    {
        set_num_threads(threads);
        Console.WriteLine($"# AnomalySharp metrics bench — {Environment.ProcessorCount} cores, {threads} threads, {images} images of "
            + $"{size}² ({(long)images * size * size / 1e6:0.0} M pixels)");
        using var scope = NewDisposeScope();
        var (maps, masks, scores, labels) = Synthetic(images, size, seed: 7);
        var sw = Stopwatch.StartNew();
        double Lap() { double s = sw.Elapsed.TotalSeconds; sw.Restart(); return s; }
        using (var walk = CurveWalk.Sort(maps, masks))
        {
            double sort = Lap();
            // The curves walked one metric at a time, for comparison (each walk reads every key again), then all at once; the
            // first walk of a process pays for its heap's first pages, so a warm-up walk goes before both.
            CurveSummary.Compute(walk);
            Lap();
            var alone = CurveSummary.Compute(walk);
            double curve = Lap();
            var aupro = Aupro.ComputeWithCurve(walk);
            double pro = Lap();
            var small = Aupro.ComputeWithCurve(walk, maxPoints: 2, maxRegionFraction: Aupro.SmallRegionFraction);
            double proSmall = Lap();
            using var fresh = CurveWalk.Sort(maps, masks); // without a summary kept from the walks above
            Lap();
            var curves = PixelCurves.Walk(fresh);
            double shared = Lap();
            var summary = fresh.Summary;
            Console.WriteLine($"| stage | seconds |\n|---|---|\n| sort (keys, runs) | {sort:0.00} |");
            Console.WriteLine($"| one walk (AUROC, AUPR, F1, both AUPRO areas) and the PRO curve's points | {shared:0.00} |");
            Console.WriteLine($"one metric per walk instead: AUROC, AUPR, F1 {curve:0.00} s, AUPRO {pro:0.00} s, small-region AUPRO "
                + $"{proSmall:0.00} s, {curve + pro + proSmall:0.00} s in all");
            Console.WriteLine($"pixel AUROC {summary.Auroc:0.000000}, AUPR {summary.Aupr:0.000000}, F1 {summary.F1Max:0.000000}, "
                + $"AUPRO {curves.Aupro:0.000000} ({curves.Regions} regions), small {curves.AuproSmall:0.000000}; "
                + $"one per walk: {alone.Auroc:0.000000}, {aupro.Aupro:0.000000}, {small.Aupro:0.000000}; "
                + $"same curve points: {curves.Curve.Fpr.SequenceEqual(aupro.Fpr) && curves.Curve.Pro.SequenceEqual(aupro.Pro)}");
        }
        // The sort alone on keys like the walk's (each pixel's score bits above a small code): introsort, then the radix
        // partition, on copies of the same keys.
        var keys = new long[maps.numel()];
        var flat = maps.flatten().contiguous().data<float>().ToArray();
        for (long i = 0; i < keys.LongLength; i++) keys[i] = ((long)BitConverter.SingleToInt32Bits(flat[i]) << 32) | (uint)(i % 3);
        var copy = (long[])keys.Clone();
        sw.Restart();
        Array.Sort(copy);
        double intro = Lap();
        KeySort.Sort(keys);
        double radix = Lap();
        Console.WriteLine($"key sort alone: introsort {intro:0.00} s, radix partition then introsort per bucket on {threads} threads "
            + $"{radix:0.00} s ({intro / radix:0.0}x), same order: {keys.AsSpan().SequenceEqual(copy)}");
        sw.Restart();
        var report = MetricReport.Compute(scores, labels, maps, masks);
        Console.WriteLine($"MetricReport.Compute, everything: {sw.Elapsed.TotalSeconds:0.00} s (pixel AUROC "
            + $"{report.PixelAuroc:0.000000}, AUPRO {report.Aupro:0.000000})");
        return 0;
    }

    /// <summary>Seeded maps [N,1,S,S] and masks, image scores (each map's max) and labels.</summary>
    public static (Tensor Maps, Tensor Masks, Tensor Scores, Tensor Labels) Synthetic(int images, int size, int seed)
    {
        var gen = new TorchSharp.torch.Generator((ulong)seed);
        var noise = nn.functional.avg_pool2d(randn(images, 1, size + 8, size + 8, generator: gen), 9, 1);
        var masks = zeros(images, 1, size, size);
        var yy = arange(size, dtype: ScalarType.Float32).view(-1, 1);
        var xx = arange(size, dtype: ScalarType.Float32).view(1, -1);
        var rng = new Random(seed);
        var labels = new float[images];
        for (int i = 0; i < images; i += 2)
        {
            labels[i] = 1;
            for (int d = 0, n = rng.Next(1, 4); d < n; d++)
            {
                float cy = rng.Next(size), cx = rng.Next(size), ry = rng.Next(2, size / 8), rx = rng.Next(2, size / 8);
                var inside = (yy - cy).div(ry).pow(2).add((xx - cx).div(rx).pow(2)).le(1);
                masks[i, 0] = masks[i, 0].logical_or(inside).to_type(ScalarType.Float32);
            }
        }
        var maps = noise.add(masks.mul(0.3f)).add(nn.functional.avg_pool2d(masks, 7, 1, 3).mul(0.2f));
        var scores = maps.amax(new long[] { 1, 2, 3 });
        return (maps, masks, scores, tensor(labels));
    }
}
