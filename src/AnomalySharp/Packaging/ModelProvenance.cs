using System.Text.Json.Nodes;
using AnomalySharp.Configuration;
using AnomalySharp.Data;
using AnomalySharp.PostProcessing;

namespace AnomalySharp.Packaging;

/// <summary>
/// What a saved model learned from and how its thresholds were chosen, kept in its file so that `anomalysharp update`
/// can carry on: the images it was fitted on, the held-out good images its thresholds came from, the test images it was
/// measured on, and the shapes of its training images (new images must share one, or the resize would distort them
/// differently).
/// </summary>
internal sealed record ModelProvenance
{
    /// <summary>How the thresholds were chosen.</summary>
    public required ThresholdRule Threshold { get; init; }
    /// <summary>The images the model was fitted on (full paths).</summary>
    public required IReadOnlyList<string> Fitted { get; init; }
    /// <summary>The held-out good images the thresholds were calibrated on (false_alarm_rate), else empty.</summary>
    public IReadOnlyList<string> Calibration { get; init; } = Array.Empty<string>();
    /// <summary>The test images the model was measured on.</summary>
    public IReadOnlyList<AnomalySample> Test { get; init; } = Array.Empty<AnomalySample>();
    /// <summary>The distinct (width, height) of the training images, at most <see cref="MaxSizes"/>.</summary>
    public IReadOnlyList<(int Width, int Height)> ImageSizes { get; init; } = Array.Empty<(int, int)>();
    /// <summary>How many updates the model has had since it was trained.</summary>
    public int Updates { get; init; }

    /// <summary>The most distinct training image shapes kept.</summary>
    public const int MaxSizes = 64;

    /// <summary>The manifest's "provenance" block.</summary>
    public JsonObject ToJson() => new()
    {
        ["threshold"] = Threshold.ConfigName(),
        ["fitted_images"] = new JsonArray(Fitted.Select(p => (JsonNode?)p).ToArray()),
        ["calibration_images"] = new JsonArray(Calibration.Select(p => (JsonNode?)p).ToArray()),
        ["test_images"] = new JsonArray(Test.Select(s => (JsonNode?)new JsonObject
        {
            ["image"] = s.ImagePath, ["anomalous"] = s.IsAnomalous, ["type"] = s.DefectType, ["mask"] = s.MaskPath,
        }).ToArray()),
        ["image_sizes"] = new JsonArray(ImageSizes.Select(s => (JsonNode?)new JsonArray(s.Width, s.Height)).ToArray()),
        ["updates"] = Updates,
    };

    /// <summary>Reads the block back; null when the model file predates it.</summary>
    /// <exception cref="FormatException">The block is damaged.</exception>
    public static ModelProvenance? FromJson(JsonNode? node)
    {
        if (node is not JsonObject o) return null;
        static List<string> Paths(JsonNode? a) => (a as JsonArray ?? throw new FormatException("provenance: a list of images is missing"))
            .Select(p => (string?)p ?? throw new FormatException("provenance: an image path is missing")).ToList();
        return new ModelProvenance
        {
            Threshold = ConfigNames.Parse<ThresholdRule>((string?)o["threshold"] ?? "")
                ?? throw new FormatException("provenance: threshold is missing or unknown"),
            Fitted = Paths(o["fitted_images"]),
            Calibration = Paths(o["calibration_images"]),
            Test = (o["test_images"] as JsonArray ?? new JsonArray()).Select(t => new AnomalySample(
                (string?)t!["image"] ?? throw new FormatException("provenance: a test image path is missing"),
                (bool)t["anomalous"]!, (string?)t["type"] ?? "good", (string?)t["mask"])).ToList(),
            ImageSizes = (o["image_sizes"] as JsonArray ?? new JsonArray()).Select(s => ((int)s![0]!, (int)s[1]!)).ToList(),
            Updates = (int?)o["updates"] ?? 0,
        };
    }
}
