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

    /// <summary>Computes the metrics of <paramref name="set"/> and writes curves, pictures and the report into <paramref name="folder"/>.</summary>
    public EvaluationReport Write(EngineOptions options, NormalizationStats stats, EvaluationSet set, string folder, IAnomalyDataset dataset)
    {
        MetricReport metrics;
        using (NativeCallGuard.Enter()) // the metrics pass implicit Scalars (see NativeCallGuard)
            metrics = MetricReport.Compute(set.Scores, set.Labels, set, options.SortRunLength);
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
            ImageAccuracyAtThreshold = Enumerable.Range(0, set.Samples.Count).Count(i => scoreValues[i] >= 0.5 == set.Samples[i].IsAnomalous) / (double)set.Samples.Count,
        };

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
        HtmlReport.Write(Path.Combine(folder, "report.html"), $"AnomalySharp — {options.ModelName} on {dataset.Root}", rows, items);
        MemoryMonitor.EndStage("report");
        return report;
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
            MinMaxNormalizer.Normalize(TensorSpan.Floats(raw), TensorSpan.Floats(map), stats.PixelThreshold, stats.PixelMin, stats.PixelMax);
            SampleRenderer.Save(Path.Combine(imagesDir, file), set.Image(i)![0], map, set.Mask(i)?[0]);
            items.Add(new ReportItem(sample.Id, sample.DefectType, "images/" + file, sample.ImagePath, scoreValues[i], sample.IsAnomalous));
            step.Advance(1);
        }
        return items;
    }
}
