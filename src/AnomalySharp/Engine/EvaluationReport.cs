using System.Text.Json.Nodes;

namespace AnomalySharp.Engine;

/// <summary>The metrics of an evaluation under fixed thresholds (the rows of report.html's table).</summary>
public sealed record EvaluationReport
{
    /// <summary>Model name.</summary>
    public required string Model { get; init; }
    /// <summary>model.backbone, or null.</summary>
    public string? Backbone { get; init; }
    /// <summary>Working height (data.image_size).</summary>
    public required int ImageHeight { get; init; }
    /// <summary>Working width (the height for a square working size).</summary>
    public required int ImageWidth { get; init; }
    /// <summary>The run's seed.</summary>
    public required int Seed { get; init; }
    /// <summary>The dataset's description.</summary>
    public required string Dataset { get; init; }
    /// <summary>Images the metrics were computed on.</summary>
    public required int NTest { get; init; }
    /// <summary>Image AUROC (NaN when the evaluation images hold one class only).</summary>
    public required double ImageAuroc { get; init; }
    /// <summary>Image F1 at the best threshold.</summary>
    public required double ImageF1Max { get; init; }
    /// <summary>Image average precision.</summary>
    public required double ImageAupr { get; init; }
    /// <summary>Pixel AUROC (null without masks).</summary>
    public double? PixelAuroc { get; init; }
    /// <summary>Pixel F1 at the best threshold.</summary>
    public double? PixelF1Max { get; init; }
    /// <summary>Pixel average precision.</summary>
    public double? PixelAupr { get; init; }
    /// <summary>Area under the per-region overlap curve up to 30% false positives.</summary>
    public double? Aupro { get; init; }
    /// <summary>AUPRO over the defect regions smaller than 0.1% of their image only (null without masks or such regions).</summary>
    public double? AuproSmall { get; init; }
    /// <summary>Defect regions in the evaluation's masks, and how many of them are small (under 0.1% of their image).</summary>
    public (int All, int Small) Regions { get; init; }
    /// <summary>Raw image threshold.</summary>
    public required double ImageThreshold { get; init; }
    /// <summary>Raw pixel threshold.</summary>
    public required double PixelThreshold { get; init; }
    /// <summary>Share of evaluation images labelled correctly at the threshold.</summary>
    public required double ImageAccuracyAtThreshold { get; init; }
    /// <summary>Precision at the threshold (flagged images that are defective; NaN without defects or flags).</summary>
    public double ImagePrecisionAtThreshold { get; init; } = double.NaN;
    /// <summary>Recall at the threshold (defective images flagged; NaN without defects).</summary>
    public double ImageRecallAtThreshold { get; init; } = double.NaN;
    /// <summary>F1 at the threshold, next to <see cref="ImageF1Max"/>, the F1 of the best threshold in hindsight.</summary>
    public double ImageF1AtThreshold { get; init; } = double.NaN;
    /// <summary>Share of the evaluation's good images flagged at the threshold (NaN without good images).</summary>
    public double FalseAlarmRateAtThreshold { get; init; } = double.NaN;
    /// <summary>What the metrics were computed on: "test images", or the held-out good images when the data has no test images.</summary>
    public string EvaluatedOn { get; init; } = "test images";
    internal static JsonNode? Round(double? v) => v is null || double.IsNaN(v.Value) ? null : Math.Round(v.Value, 5);

    /// <summary>The metrics and thresholds as results.json writes them.</summary>
    public JsonObject ToJson() => new()
    {
        ["model"] = Model,
        ["backbone"] = Backbone,
        ["image_size"] = ImageHeight == ImageWidth ? ImageHeight : new JsonArray(ImageHeight, ImageWidth),
        ["seed"] = Seed,
        ["dataset"] = Dataset,
        ["n_test"] = NTest,
        ["image_auroc"] = Round(ImageAuroc),
        ["image_f1max"] = Round(ImageF1Max),
        ["image_aupr"] = Round(ImageAupr),
        ["pixel_auroc"] = Round(PixelAuroc),
        ["pixel_f1max"] = Round(PixelF1Max),
        ["pixel_aupr"] = Round(PixelAupr),
        ["aupr"] = Round(PixelAupr),
        ["aupro"] = Round(Aupro),
        ["aupro_small"] = Round(AuproSmall),
        ["regions"] = Regions.All,
        ["small_regions"] = Regions.Small,
        ["image_threshold"] = ImageThreshold,
        ["pixel_threshold"] = PixelThreshold,
        ["image_accuracy_at_threshold"] = Round(ImageAccuracyAtThreshold),
        ["image_precision_at_threshold"] = Round(ImagePrecisionAtThreshold),
        ["image_recall_at_threshold"] = Round(ImageRecallAtThreshold),
        ["image_f1_at_threshold"] = Round(ImageF1AtThreshold),
        ["false_alarm_rate_at_threshold"] = Round(FalseAlarmRateAtThreshold),
        ["evaluated_on"] = EvaluatedOn,
    };

}
