using static TorchSharp.torch;

namespace AnomalySharp.Metrics;

/// <summary>
/// The pixel curves of an evaluation from as few walks of its sorted pixels as they allow: one walk feeds the pixel
/// summary (AUROC, AUPR, F1; unless calibration walked it already) and the areas under both PRO curves (all regions, and
/// small regions only), weighting each defect pixel three ways at once; a second walk, up to the PRO limit, picks the
/// plotted points of the PRO curve, whose spacing needs the count of points the first one found.
/// </summary>
internal sealed record PixelCurves(double Aupro, double AuproSmall, (double[] Fpr, double[] Pro) Curve, int Regions, int SmallRegions)
{
    /// <summary>Walks <paramref name="walk"/> (its <see cref="CurveWalk.Summary"/> is kept on it) with the PRO limit 0.3.</summary>
    public static PixelCurves Walk(CurveWalk walk, double fprLimit = 0.3, int maxPoints = 256)
    {
        using var guard = Diagnostics.NativeCallGuard.Enter(); // the arithmetic below passes implicit Scalars (see NativeCallGuard)
        using var scope = NewDisposeScope();
        var (all, regions) = walk.RegionWeights();
        var (small, smallRegions) = walk.RegionWeights(Metrics.Aupro.SmallRegionFraction);
        var summary = walk.HasSummary ? null : new CurveSummary.Builder(walk);
        bool areas = walk.Negatives > 0;
        var allArea = new AuproArea(walk.Negatives, fprLimit);
        var smallArea = new AuproArea(walk.Negatives, fprLimit);
        if (summary is not null || (areas && regions > 0))
            foreach (var c in walk.Points(new Tensor?[] { null, all, small }, thresholds: summary is not null))
            {
                summary?.Add(c.TruePositives[0], c.FalsePositives, c.Thresholds!);
                bool more = false;
                if (areas && regions > 0) more |= allArea.Add(c.TruePositives[1], c.FalsePositives);
                if (areas && smallRegions > 0) more |= smallArea.Add(c.TruePositives[2], c.FalsePositives);
                if (summary is null && !more) break;
            }
        if (summary is not null) walk.KeepSummary(summary.Result());
        double aupro = areas && regions > 0 ? allArea.Normalized() : double.NaN;
        double auproSmall = areas && smallRegions > 0 ? smallArea.Normalized() : double.NaN;
        var curve = areas && regions > 0
            ? Metrics.Aupro.Curve(walk, all, allArea, maxPoints)
            : (Array.Empty<double>(), Array.Empty<double>());
        return new PixelCurves(aupro, auproSmall, curve, regions, smallRegions);
    }
}
