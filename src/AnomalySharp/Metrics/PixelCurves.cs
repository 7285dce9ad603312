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
        // A PRO area needs regions to average over and negatives to count false positives; each weighting is walked only
        // where its curve is wanted (in `train`, calibration has walked the summary's counts already).
        bool pro = walk.Negatives > 0 && regions > 0, proSmall = walk.Negatives > 0 && smallRegions > 0;
        var allArea = new AuproArea(walk.Negatives, fprLimit);
        var smallArea = new AuproArea(walk.Negatives, fprLimit);
        var weightings = new List<Tensor?>();
        int counts = summary is null ? -1 : Add(weightings, null), allAt = pro ? Add(weightings, all) : -1,
            smallAt = proSmall ? Add(weightings, small) : -1;
        if (weightings.Count > 0)
            foreach (var c in walk.Points(weightings, thresholds: summary is not null))
            {
                summary?.Add(c.TruePositives[counts], c.FalsePositives, c.Thresholds!);
                bool more = false;
                if (allAt >= 0) more |= allArea.Add(c.TruePositives[allAt], c.FalsePositives);
                if (smallAt >= 0) more |= smallArea.Add(c.TruePositives[smallAt], c.FalsePositives);
                if (summary is null && !more) break;
            }
        if (summary is not null) walk.KeepSummary(summary.Result());
        double aupro = pro ? allArea.Normalized() : double.NaN;
        double auproSmall = proSmall ? smallArea.Normalized() : double.NaN;
        var curve = pro ? Metrics.Aupro.Curve(walk, all, allArea, maxPoints) : (Array.Empty<double>(), Array.Empty<double>());
        return new PixelCurves(aupro, auproSmall, curve, regions, smallRegions);
    }

    /// <summary>Appends <paramref name="weighting"/> and returns its index.</summary>
    static int Add(List<Tensor?> weightings, Tensor? weighting)
    {
        weightings.Add(weighting);
        return weightings.Count - 1;
    }
}
