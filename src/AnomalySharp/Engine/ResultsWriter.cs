using System.Text.Json.Nodes;
using AnomalySharp.Components;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Metrics;
using AnomalySharp.PostProcessing;
using AnomalySharp.Visualization;
using static TorchSharp.torch;

namespace AnomalySharp.Engine;

/// <summary>
/// The outputs of an evaluation under fixed thresholds: the metrics (<see cref="RunResults"/>), curves.json (ROC and
/// PRO curves, per-image normalized scores as the deployed model gives them), the pictures and report.html.
/// </summary>
internal sealed class ResultsWriter
{
    readonly IProgressReporter _progress;

    public ResultsWriter(IProgressReporter progress) => _progress = progress;

    /// <summary>Computes the metrics of <paramref name="set"/> and writes curves, pictures and the report into <paramref
    /// name="folder"/>.</summary>
    public EvaluationReport Write(EngineOptions options, NormalizationStats stats, EvaluationSet set, string folder,
        IAnomalyDataset dataset,
        ThresholdReport? threshold = null, CurveWalk? sorted = null)
    {
        var metrics = MetricReport.Compute(set.Scores, set.Labels, set, options.SortRunLength, sorted); // guarded within
        MemoryMonitor.EndStage("metrics");
        var scoreValues = MinMaxNormalizer.NormalizeScores(TensorSpan.Floats(set.Scores), stats);
        var report = new EvaluationReport
        {
            Model = options.ModelName,
            Backbone = options.Backbone,
            ImageHeight = options.ImageHeight,
            ImageWidth = options.ImageWidth,
            Seed = options.Seed,
            Dataset = dataset.Description,
            NTest = set.Samples.Count,
            ImageAuroc = metrics.ImageAuroc,
            ImageF1Max = metrics.ImageF1Max,
            ImageAupr = metrics.ImageAupr,
            PixelAuroc = metrics.PixelAuroc,
            PixelF1Max = metrics.PixelF1Max,
            PixelAupr = metrics.PixelAupr,
            Aupro = metrics.Aupro,
            AuproSmall = metrics.AuproSmall,
            Regions = (metrics.Regions, metrics.SmallRegions),
            ImageThreshold = stats.ImageThreshold,
            PixelThreshold = stats.PixelThreshold,
            ImageAccuracyAtThreshold = Enumerable.Range(0,
                set.Samples.Count).Count(i => scoreValues[i] >= 0.5 == set.Samples[i].IsAnomalous) / (double)set.Samples.Count,
            EvaluatedOn = set.Samples.Count > 0 && dataset.Test.Count == 0
                ? "held-out good images (the data has no test images)" : "test images",
        };
        report = AtThreshold(report, set, scoreValues);

        // Curves and per-image scores for plots (the benchmark command draws them).
        JsonArray Arr(IEnumerable<double> v) => new(v.Select(x => (JsonNode)Math.Round(x, 6)).ToArray());
        RunResults.WriteJson(Path.Combine(folder, "curves.json"), new JsonObject
        {
            ["roc"] = new JsonObject { ["fpr"] = Arr(metrics.ImageRoc.Fpr), ["tpr"] = Arr(metrics.ImageRoc.Tpr) },
            ["pro"] = new JsonObject { ["fpr"] = Arr(metrics.ProCurve.Fpr), ["pro"] = Arr(metrics.ProCurve.Pro) },
            ["scores"] = new JsonArray(scoreValues.Select(v => (JsonNode)(double)v).ToArray()), // exact, as the deployed model gives them
            ["labels"] = new JsonArray(set.Samples.Select(x => (JsonNode)(x.IsAnomalous ? 1 : 0)).ToArray()),
        });

        var items = options.SaveImages && set.HasImages ? DrawImages(stats, set, folder, scoreValues)
            : set.Samples.Select((s, i) => new ReportItem(s.Id, s.DefectType, "", s.ImagePath, scoreValues[i], s.IsAnomalous)).ToList();
        var rows = report.ToJson().Where(kv => kv.Value is JsonValue).Select(kv => (kv.Key, kv.Value!.ToJsonString().Trim('"'))).ToList();
        MemoryMonitor.EndStage(options.SaveImages ? "images" : "curves");
        if (threshold != null) rows.Insert(0, ("threshold", threshold.Statement));
        HtmlReport.Write(Path.Combine(folder, "report.html"), $"AnomalySharp — {options.ModelName} on {dataset.Root}", rows, items,
            ScoreHistogram(stats, set, scoreValues, threshold));
        MemoryMonitor.EndStage("report");
        return report;
    }

    /// <summary>Precision, recall and F1 at the chosen threshold, and the share of good images it flags.</summary>
    static EvaluationReport AtThreshold(EvaluationReport report, EvaluationSet set, float[] scoreValues)
    {
        int tp = 0, fp = 0, fn = 0, tn = 0;
        for (int i = 0; i < set.Samples.Count; i++)
        {
            bool flagged = scoreValues[i] >= 0.5, anomalous = set.Samples[i].IsAnomalous;
            if (flagged && anomalous) tp++; else if (flagged) fp++; else if (anomalous) fn++; else tn++;
        }
        double precision = tp + fp > 0 && tp + fn > 0 ? tp / (double)(tp + fp) : double.NaN;
        double recall = tp + fn > 0 ? tp / (double)(tp + fn) : double.NaN;
        double f1 = tp + fn == 0 ? double.NaN : 2.0 * tp / (2 * tp + fp + fn);
        return report with
        {
            ImagePrecisionAtThreshold = precision,
            ImageRecallAtThreshold = recall,
            ImageF1AtThreshold = f1,
            FalseAlarmRateAtThreshold = fp + tn > 0 ? fp / (double)(fp + tn) : double.NaN,
        };
    }

    /// <summary>
    /// The report's histogram of normalized scores with the threshold (0.5) marked: the held-out good images a
    /// false_alarm_rate threshold was calibrated on, and the evaluation's good and defective images.
    /// </summary>
    static string ScoreHistogram(NormalizationStats stats, EvaluationSet set, float[] scoreValues, ThresholdReport? threshold)
    {
        var plot = new SvgPlot("Scores (normalized; threshold 0.5)", "score", "share of images", 0, 1, 0, 1);
        bool evaluatedOnCalibration = threshold is { CalibrationImages.Count: > 0 }
            && set.Samples.Select(s => s.ImagePath).SequenceEqual(threshold.CalibrationImages, StringComparer.Ordinal);
        if (threshold is { CalibrationScores.Count: > 0 })
        {
            var calibration = MinMaxNormalizer.NormalizeScores(threshold.CalibrationScores.ToArray(),
                stats).Select(v => (double)v).ToList();
            plot.Histogram("held-out good", calibration, 25, SvgPlot.Colour(2), calibration.Count);
        }
        if (!evaluatedOnCalibration)
        {
            var good = set.Samples.Select((s, i) => (s, i)).Where(p => !p.s.IsAnomalous).Select(p => (double)scoreValues[p.i]).ToList();
            var bad = set.Samples.Select((s, i) => (s, i)).Where(p => p.s.IsAnomalous).Select(p => (double)scoreValues[p.i]).ToList();
            if (good.Count > 0) plot.Histogram("test good", good, 25, SvgPlot.Colour(0), good.Count);
            if (bad.Count > 0) plot.Histogram("test defective", bad, 25, SvgPlot.Colour(1), bad.Count);
        }
        return plot.Line("threshold", new[] { 0.5, 0.5 }, new[] { 0.0, 1.0 }, "#000", dashed: true).ToSvg();
    }

    List<ReportItem> DrawImages(NormalizationStats stats, EvaluationSet set, string folder, float[] scoreValues)
    {
        var items = new List<ReportItem>();
        string imagesDir = Path.Combine(folder, "images");
        Directory.CreateDirectory(imagesDir);
        using var step = _progress.Start("write images", set.Samples.Count);
        for (int i = 0; i < set.Samples.Count; i++)
        {
            using var scope = NewDisposeScope();
            var sample = set.Samples[i];
            string file = $"{sample.DefectType}_{Path.GetFileNameWithoutExtension(sample.ImagePath)}.png";
            var raw = set.Map(i)[0].contiguous();
            var map = empty_like(raw);
            MinMaxNormalizer.Normalize(TensorSpan.Floats(raw), TensorSpan.Floats(map), stats.PixelThreshold, stats.PixelMin,
                stats.PixelMax);
            SampleRenderer.Save(Path.Combine(imagesDir, file), set.Image(i)![0], map, set.Mask(i)?[0]);
            items.Add(new ReportItem(sample.Id, sample.DefectType, "images/" + file, sample.ImagePath, scoreValues[i], sample.IsAnomalous));
            step.Advance(1);
        }
        return items;
    }
}
