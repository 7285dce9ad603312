using static TorchSharp.torch;

namespace AnomalySharp.Metrics;

/// <summary>Image- and pixel-level metrics of one evaluation; pixel metrics are null without masks.</summary>
public sealed record MetricReport(
    double ImageAuroc, double ImageF1Max, double ImageAupr,
    double? PixelAuroc, double? PixelF1Max, double? PixelAupr, double? Aupro)
{
    /// <summary>Computes all metrics from raw scores and maps (normalization does not change them).</summary>
    public static MetricReport Compute(Tensor scores, Tensor labels, Tensor maps, Tensor? masks)
    {
        using var imageCurve = BinaryCurve.Compute(scores, labels);
        double imageAuroc = Auroc.Compute(imageCurve), imageF1 = F1Max.Compute(imageCurve).F1, imageAupr = Aupr.Compute(imageCurve);
        if (masks is null) return new MetricReport(imageAuroc, imageF1, imageAupr, null, null, null, null);
        double pa, pf, pp;
        using (var pixelCurve = BinaryCurve.Compute(maps, masks))
        {
            pa = Auroc.Compute(pixelCurve); pf = F1Max.Compute(pixelCurve).F1; pp = Aupr.Compute(pixelCurve);
        }
        return new MetricReport(imageAuroc, imageF1, imageAupr, pa, pf, pp, Metrics.Aupro.Compute(maps, masks));
    }
}
