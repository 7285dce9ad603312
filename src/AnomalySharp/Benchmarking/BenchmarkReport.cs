using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using AnomalySharp.Visualization;

namespace AnomalySharp.Benchmarking;

/// <summary>
/// benchmark.csv (one row per cell), benchmark.md (rows = datasets, columns = models; image AUROC / pixel AUROC /
/// AUPRO as mean ± std over seeds, then cost: fit seconds, images/s for TorchSharp and ONNX Runtime, peak memory,
/// model size) and benchmark.html (the same tables, ROC and PRO curves per model, score histograms of good versus
/// defective images, and a throughput/accuracy scatter).
/// </summary>
internal static class BenchmarkReport
{
    static readonly string[] CsvColumns = { "data", "model", "seed", "image_auroc", "pixel_auroc", "aupro", "aupro_small",
        "small_regions", "image_f1max", "fit_seconds",
        "evaluate_images_per_second", "onnx_images_per_second", "peak_memory_mb", "fit_peak_memory_mb", "model_mb", "onnx_mb",
            "threads", "n_train", "n_test", "error" };

    static double? Num(JsonObject c, string key) => c[key] is JsonValue v && v.TryGetValue(out double d) ? d : null;

    /// <summary>"mean ± std" (std over seeds, sample; omitted for one seed), or "–".</summary>
    public static string MeanStd(IReadOnlyList<double> values, string format = "0.000")
    {
        if (values.Count == 0) return "–";
        double mean = values.Average();
        if (values.Count == 1) return mean.ToString(format, CultureInfo.InvariantCulture);
        double std = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
        return $"{mean.ToString(format, CultureInfo.InvariantCulture)} ± {std.ToString(format, CultureInfo.InvariantCulture)}";
    }

    /// <summary>Writes the three files into <paramref name="output"/>.</summary>
    public static void Write(string output, IReadOnlyList<JsonObject> cells, IReadOnlyList<string> models)
    {
        var csv = new StringBuilder(string.Join(",", CsvColumns) + "\n");
        foreach (var c in cells)
            csv.Append(string.Join(",", CsvColumns.Select(k => c[k] is JsonValue v ? Csv(v.ToString()) : ""))).Append('\n');
        File.WriteAllText(Path.Combine(output, "benchmark.csv"), csv.ToString());

        var datasets = cells.Select(c => (string)c["data"]!).Distinct().ToList();
        var ok = cells.Where(c => c["error"] is null).ToList();
        IReadOnlyList<double> Values(string d, string m, string key) =>
            ok.Where(c => (string)c["data"]! == d && (string)c["model"]! == m).Select(c => Num(c, key)).OfType<double>().ToList();
        string Failed(string d,
            string m) => cells.Any(c
                => (string)c["data"]! == d && (string)c["model"]! == m && c["error"] is not null) ? " (a seed failed)" : "";

        var accuracy = new List<string[]> { new[] { "dataset" }.Concat(models).ToArray() };
        foreach (string d in datasets)
            accuracy.Add(new[] { d }.Concat(models.Select(m => $"{MeanStd(Values(d, m, "image_auroc"))} / "
                + $"{MeanStd(Values(d, m, "pixel_auroc"))} / {MeanStd(Values(d, m, "aupro"))}{Failed(d, m)}")).ToArray());
        var cost = new List<string[]> { new[] { "dataset", "model", "AUPRO of regions < 0.1%", "fit s",
            "images/s evaluate (config batch)", "images/s exported (batch 16)", "peak MiB", "model MB", "ONNX MB" } };
        foreach (string d in datasets)
            foreach (string m in models)
                cost.Add(new[] { d, m, MeanStd(Values(d, m, "aupro_small")) + SmallRegions(d, m), MeanStd(Values(d, m, "fit_seconds"),
                    "0.0"), MeanStd(Values(d, m, "evaluate_images_per_second"), "0.0"),
                    MeanStd(Values(d, m, "onnx_images_per_second"), "0.0"), MeanStd(Values(d, m, "peak_memory_mb"), "0"),
                    MeanStd(Values(d, m, "model_mb"), "0.0"), MeanStd(Values(d, m, "onnx_mb"), "0.0") });
        string SmallRegions(string d, string m) => Values(d, m, "small_regions") is { Count: > 0 } n ? $" ({n.Max():0} regions)" : "";
        int seeds = cells.Select(c => (int)c["seed"]!).Distinct().Count();
        string threads = string.Join(",", ok.Select(c => c["threads"]?.ToString()).Distinct());

        var md = new StringBuilder();
        md.Append(CultureInfo.InvariantCulture,
            $"# Benchmark\n\nimage AUROC / pixel AUROC / AUPRO, mean ± std over {seeds} seed(s); {threads} threads.\n\n");
        md.Append(Markdown(accuracy)).Append('\n').Append(Markdown(cost));
        foreach (var c in cells.Where(c => c["error"] is not null))
            md.Append(CultureInfo.InvariantCulture, $"\nfailed: {c["data"]} / {c["model"]} / seed {c["seed"]}: {c["error"]}\n");
        File.WriteAllText(Path.Combine(output, "benchmark.md"), md.ToString());

        var html = new StringBuilder(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>AnomalySharp benchmark</title>"
            + "<style>body{font-family:sans-serif;margin:1.5rem}table{border-collapse:collapse;margin:1rem 0}"
            + "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
            + "td:first-child,th:first-child{text-align:left}.plots{display:flex;flex-wrap:wrap;gap:10px}</style></head><body>");
        html.Append(CultureInfo.InvariantCulture,
            $"<h1>AnomalySharp benchmark</h1><p>image AUROC / pixel AUROC / AUPRO, mean ± std over {seeds} seed(s); "
                + $"{WebUtility.HtmlEncode(threads)} threads.</p>");
        html.Append(Html(accuracy)).Append(Html(cost));
        foreach (string d in datasets)
        {
            html.Append(CultureInfo.InvariantCulture, $"<h2>{WebUtility.HtmlEncode(d)}</h2><div class=\"plots\">");
            var roc = new SvgPlot($"Image ROC — {d}", "false positive rate", "true positive rate", 0, 1, 0, 1);
            var pro = new SvgPlot($"PRO (FPR ≤ 0.3) — {d}", "false positive rate", "per-region overlap", 0, 0.3, 0, 1);
            roc.Line("", new[] { 0.0, 1.0 }, new[] { 0.0, 1.0 }, "#bbb", dashed: true);
            var histograms = new List<string>();
            for (int i = 0; i < models.Count; i++)
            {
                var first = ok.FirstOrDefault(c
                    => (string)c["data"]! == d && (string)c["model"]! == models[i] && c["curves"] is JsonObject);
                if (first?["curves"] is not JsonObject curves) continue;
                double[] A(JsonNode? n) => n is JsonArray a ? a.Select(x => (double)x!).ToArray() : Array.Empty<double>();
                roc.Line(models[i], A(curves["roc"]?["fpr"]), A(curves["roc"]?["tpr"]), SvgPlot.Colour(i));
                if (A(curves["pro"]?["fpr"]).Length > 0) pro.Line(models[i], A(curves["pro"]?["fpr"]), A(curves["pro"]?["pro"]),
                    SvgPlot.Colour(i));
                var scores = A(curves["scores"]);
                var labels = A(curves["labels"]);
                var good = scores.Where((_, j) => labels[j] == 0).ToList();
                var bad = scores.Where((_, j) => labels[j] == 1).ToList();
                double peak = Math.Max(1, new[] { good, bad }.Max(list => list.GroupBy(v => Math.Clamp((int)(v * 25), 0,
                    24)).Select(g => g.Count()).DefaultIfEmpty(0).Max()));
                histograms.Add(new SvgPlot($"Normalized scores — {models[i]}", "score (threshold 0.5)", "images", 0, 1, 0, peak)
                    .Histogram("good", good, 25, "#2ca02c", 1).Histogram("defective", bad, 25, "#d62728", 1)
                    .Line("", new[] { 0.5, 0.5 }, new[] { 0.0, peak }, "#555", dashed: true).ToSvg());
            }
            html.Append(roc.ToSvg()).Append(pro.ToSvg());
            foreach (string h in histograms) html.Append(h);
            html.Append("</div>");
        }
        var points = (from d in datasets
                      from m in models
                      let a = Values(d, m, "image_auroc")
                      let r = Values(d, m, "onnx_images_per_second")
                      where a.Count > 0 && r.Count > 0
                      select (Label: $"{m} / {d}", Rate: r.Average(), Auroc: a.Average(),
                          Colour: SvgPlot.Colour(models.ToList().IndexOf(m)))).ToList();
        if (points.Count > 0)
        {
            var scatter = new SvgPlot("Throughput vs accuracy (ONNX Runtime)", "images/s (decode included)", "image AUROC",
                0, points.Max(p => p.Rate) * 1.25, Math.Floor(points.Min(p => p.Auroc) * 20) / 20, 1);
            foreach (var p in points) scatter.Point(p.Label, p.Rate, p.Auroc, p.Colour);
            html.Append("<h2>Throughput and accuracy</h2>").Append(scatter.ToSvg());
        }
        html.Append("</body></html>");
        File.WriteAllText(Path.Combine(output, "benchmark.html"), html.ToString());
    }

    static string Csv(string v) => v.Contains(',') || v.Contains('"') ? "\"" + v.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : v;

    static string Markdown(List<string[]> rows)
    {
        var sb = new StringBuilder();
        sb.Append("| ").Append(string.Join(" | ", rows[0])).Append(" |\n|").Append(string.Concat(rows[0].Select(_ => "---|"))).Append('\n');
        foreach (var r in rows.Skip(1)) sb.Append("| ").Append(string.Join(" | ", r)).Append(" |\n");
        return sb.ToString();
    }

    static string Html(List<string[]> rows)
    {
        var sb = new StringBuilder("<table><tr>");
        foreach (string h in rows[0]) sb.Append("<th>").Append(WebUtility.HtmlEncode(h)).Append("</th>");
        sb.Append("</tr>");
        foreach (var r in rows.Skip(1))
        {
            sb.Append("<tr>");
            foreach (string c in r) sb.Append("<td>").Append(WebUtility.HtmlEncode(c)).Append("</td>");
            sb.Append("</tr>");
        }
        return sb.Append("</table>").ToString();
    }
}
