using System.Text.Json.Nodes;
using AnomalySharp.Configuration;
using AnomalySharp.PostProcessing;

namespace AnomalySharp.Engine;

/// <summary>
/// How the thresholds were chosen and what they mean (results.json's "threshold"): the method, and for
/// false_alarm_rate the guaranteed rate r, the calibration images and the false alarms the threshold makes on them.
/// </summary>
/// <param name="Method">How the thresholds were chosen.</param>
public sealed record ThresholdReport(ThresholdRule Method)
{
    /// <summary>The image-level bound r (false_alarm_rate only).</summary>
    public double? FalseAlarmRate { get; init; }
    /// <summary>The pixel-level rate (false_alarm_rate only).</summary>
    public double? PixelFalseAlarmRate { get; init; }
    /// <summary>The held-out good images the thresholds were calibrated on, never fitted on.</summary>
    public IReadOnlyList<string> CalibrationImages { get; init; } = Array.Empty<string>();
    /// <summary>The share of the calibration images at or above the threshold (at most r by construction).</summary>
    public double? CalibrationFalseAlarmRate { get; init; }
    /// <summary>Pixels of the calibration images.</summary>
    public long CalibrationPixels { get; init; }
    /// <summary>The calibration images' raw scores (for the report's histogram; not written to results.json).</summary>
    public IReadOnlyList<float> CalibrationScores { get; init; } = Array.Empty<float>();

    /// <summary>A one-line statement of the guarantee for consoles and reports.</summary>
    public string Statement => Method switch
    {
        ThresholdRule.FalseAlarmRate => FormattableString.Invariant(
            $"false_alarm_rate: at most {FalseAlarmRate:0.####} of good images flagged in expectation (split conformal over ")
            + FormattableString.Invariant($"{CalibrationImages.Count} held-out good images; {CalibrationFalseAlarmRate:0.####} of them ")
            + "flagged)",
        ThresholdRule.F1 => "f1: the threshold that maximizes F1 on the validation images (defects needed)",
        _ => "manual: raw thresholds from the configuration",
    };

    /// <summary>results.json's "threshold" object.</summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject { ["method"] = Method.ConfigName() };
        if (Method != ThresholdRule.FalseAlarmRate) return json;
        json["false_alarm_rate"] = FalseAlarmRate;
        json["pixel_false_alarm_rate"] = PixelFalseAlarmRate;
        json["n_calibration"] = CalibrationImages.Count;
        json["calibration_false_alarm_rate"] = EvaluationReport.Round(CalibrationFalseAlarmRate);
        json["calibration_pixels"] = CalibrationPixels;
        json["calibration_images"] = new JsonArray(CalibrationImages.Select(p => (JsonNode)p).ToArray());
        return json;
    }
}
