using System.Text.Json;
using System.Text.Json.Nodes;

namespace AnomalySharp.Engine;

/// <summary>
/// What `train` and `test` report: the metrics on the evaluation images (<see cref="Evaluation"/>), and how the run
/// went. Written as results.json (<see cref="ToJson"/>: snake_case keys, numbers rounded to 5 digits, NaN as null;
/// the file's keys and order are those of earlier versions).
/// </summary>
public sealed record RunResults
{
    /// <summary>Metrics and thresholds.</summary>
    public required EvaluationReport Evaluation { get; init; }
    /// <summary>Seconds the fit took (null for `test`).</summary>
    public double? FitSeconds { get; init; }
    /// <summary>Seconds per stage of the run (results.json's timings), when it was timed.</summary>
    internal Diagnostics.StageTimings? Timings { get; init; }
    /// <summary>Peak resident memory after the fit, MiB (null for `test`).</summary>
    public double? FitPeakMemoryMb { get; init; }
    /// <summary>Evaluation speed: decode, resize and the inference graph, images per second.</summary>
    public required double PredictImagesPerSecond { get; init; }
    /// <summary>Compute threads.</summary>
    public required int Threads { get; init; }
    /// <summary>Training images used.</summary>
    public required int NTrain { get; init; }
    /// <summary>Images the thresholds were calibrated on (null for `test`).</summary>
    public int? NValidation { get; init; }
    /// <summary>postprocessing.validation (null for `test`).</summary>
    public string? Validation { get; init; }
    /// <summary>How the thresholds were chosen (null for `test`, which keeps the model's).</summary>
    public ThresholdReport? Threshold { get; init; }
    /// <summary>Images skipped as unreadable, with the reason.</summary>
    public IReadOnlyList<string> SkippedImages { get; init; } = Array.Empty<string>();
    /// <summary>Peak resident memory of the run, MiB.</summary>
    public required double PeakMemoryMb { get; init; }
    /// <summary>What the epochs did, for a trained model; else null.</summary>
    public TrainingReport? Training { get; init; }
    /// <summary>`update` only: the model it started from and what it folded in.</summary>
    public JsonObject? Update { get; init; }

    /// <summary>A trained model's epochs.</summary>
    public sealed record TrainingReport(int Epochs, int KeptEpoch, string? Monitor, double? BestValue, bool StoppedEarly, double FinalLoss,
        double Seconds, double ImagesPerSecond, bool FeaturesCached, int HeldOutImages)
    {
        /// <summary>A tiled ensemble's positions, each trained on its own (the numbers above are their sums: epochs, kept epochs, seconds);
        /// null otherwise.</summary>
        public IReadOnlyList<TrainingReport>? Positions { get; init; }

        /// <summary>The report of a training run (and of each position of a tiled ensemble).</summary>
        public static TrainingReport From(Training.TrainingSummary t, string? monitor) =>
            new(t.Epochs, t.BestEpoch, monitor, t.BestValue, t.StoppedEarly, t.FinalLoss, t.Seconds, t.ImagesPerSecond,
                t.FeaturesCached, t.HeldOut)
            {
                Positions = t.Positions?.Select(p => From(p, monitor)).ToList(),
            };

        /// <summary>results.json's "training" object.</summary>
        public JsonObject ToJson()
        {
            var json = new JsonObject
            {
                ["epochs"] = Epochs, ["kept_epoch"] = KeptEpoch, ["monitor"] = Monitor, ["best_value"] = EvaluationReport.Round(BestValue),
                ["stopped_early"] = StoppedEarly, ["final_loss"] = EvaluationReport.Round(FinalLoss),
                ["seconds"] = EvaluationReport.Round(Seconds),
                ["images_per_second"] = EvaluationReport.Round(ImagesPerSecond), ["features_cached"] = FeaturesCached,
                ["held_out_images"] = HeldOutImages,
            };
            if (Positions != null) json["positions"] = new JsonArray(Positions.Select(p => (JsonNode)p.ToJson()).ToArray());
            return json;
        }
    }

    /// <summary>results.json's content.</summary>
    public JsonObject ToJson()
    {
        var json = Evaluation.ToJson();
        json["fit_seconds"] = EvaluationReport.Round(FitSeconds);
        if (FitPeakMemoryMb != null) json["fit_peak_memory_mb"] = EvaluationReport.Round(FitPeakMemoryMb);
        json["predict_images_per_second"] = EvaluationReport.Round(PredictImagesPerSecond);
        json["threads"] = Threads;
        json["huge_pages"] = Runtime.HugePages.Active;
        json["n_train"] = NTrain;
        if (NValidation != null) json["n_validation"] = NValidation;
        if (Validation != null) json["validation"] = Validation;
        if (Threshold != null) json["threshold"] = Threshold.ToJson();
        json["skipped_images"] = new JsonArray(SkippedImages.Select(s => (JsonNode)s).ToArray());
        json["peak_memory_mb"] = EvaluationReport.Round(PeakMemoryMb);
        if (Training is { } t) json["training"] = t.ToJson();
        if (Update != null) json["update"] = Update.DeepClone();
        if (Timings != null) json["timings"] = Timings.ToJson();
        return json;
    }

    /// <summary>Writes results.json into <paramref name="folder"/>.</summary>
    public void Write(string folder) => WriteJson(Path.Combine(folder, "results.json"), ToJson());

    /// <summary>Writes an indented JSON file.</summary>
    internal static void WriteJson(string path, JsonObject obj) =>
        File.WriteAllText(path, obj.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
}
