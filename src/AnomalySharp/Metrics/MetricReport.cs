using static TorchSharp.torch;

namespace AnomalySharp.Metrics;

/// <summary>Image- and pixel-level metrics of one evaluation; pixel metrics are null without masks.</summary>
internal sealed record MetricReport(
    double ImageAuroc, double ImageF1Max, double ImageAupr,
    double? PixelAuroc, double? PixelF1Max, double? PixelAupr, double? Aupro, double? AuproSmall = null)
{
    /// <summary>Computes all metrics from raw scores and maps (normalization does not change them).</summary>
    public static MetricReport Compute(Tensor scores, Tensor labels, Tensor maps, Tensor? masks) =>
        Compute(scores, labels, masks is null ? null : new TensorPixels(maps, masks));

    /// <summary>
    /// As <see cref="Compute(Tensor, Tensor, Tensor, Tensor?)"/>, reading maps and masks from <paramref name="pixels"/> (pixel
    /// metrics need its masks) and sorting pixels in runs of <paramref name="runLength"/> (see <see cref="CurveWalk"/>).
    /// <paramref name="sorted"/>, when given, is those pixels already sorted (kept open: the caller disposes it).
    /// </summary>
    public static MetricReport Compute(Tensor scores, Tensor labels, IPixelSource? pixels, long runLength = CurveWalk.DefaultRunLength,
        CurveWalk? sorted = null)
    {
        using var guard = Diagnostics.NativeCallGuard.Enter(); // the arithmetic below passes implicit Scalars (see NativeCallGuard)
        using var scope = NewDisposeScope();
        using var imageCurve = BinaryCurve.Compute(scores, labels);
        double imageAuroc = Auroc.Compute(imageCurve), imageF1 = F1Max.Compute(imageCurve).F1, imageAupr = Aupr.Compute(imageCurve);
        var roc = (CurveMath.Thin(CurveMath.Prepend(imageCurve.FalsePositives / Math.Max(1, imageCurve.Negatives), 0), 256),
            CurveMath.Thin(CurveMath.Prepend(imageCurve.TruePositives / Math.Max(1, imageCurve.Positives), 0), 256));
        if (pixels is null || !pixels.HasMasks) return new MetricReport(imageAuroc, imageF1, imageAupr, null, null, null,
            null)
        { ImageRoc = roc };
        // Every pixel: one sort (see CurveWalk), walked once by the pixel metrics and both PRO areas, then once more up to the
        // PRO curve's limit for its plotted points.
        return CurveWalk.With(sorted, pixels, runLength, walk =>
        {
            var pro = PixelCurves.Walk(walk);
            return new MetricReport(imageAuroc, imageF1, imageAupr, walk.Summary.Auroc, walk.Summary.F1Max, walk.Summary.Aupr, pro.Aupro,
                pro.AuproSmall)
            { ImageRoc = roc, ProCurve = pro.Curve, Regions = pro.Regions, SmallRegions = pro.SmallRegions };
        });
    }

    /// <summary>Defect regions (8-connected, per image) in the masks; 0 without masks.</summary>
    public int Regions { get; init; }
    /// <summary>Of those, the regions under <see cref="Metrics.Aupro.SmallRegionFraction"/> of their image (what <see cref="AuproSmall"/>
    /// averages over).</summary>
    public int SmallRegions { get; init; }

    /// <summary>The image ROC curve (false and true positive rates, thinned to ≤ 256 points).</summary>
    public (double[] Fpr, double[] Tpr) ImageRoc { get; init; } = (Array.Empty<double>(), Array.Empty<double>());

    /// <summary>The PRO curve up to FPR 0.3 (thinned to ≤ 256 points); empty without masks.</summary>
    public (double[] Fpr, double[] Pro) ProCurve { get; init; } = (Array.Empty<double>(), Array.Empty<double>());
}
