using AnomalySharp.Engine;
using Spectre.Console;

namespace AnomalySharp.Cli;

/// <summary>The metrics table and the paths a run prints when it ends.</summary>
internal static class ResultsTable
{
    public static void Print(RunResults run, string outDir)
    {
        var results = run.ToJson();
        string[] keys = { "image_auroc", "image_f1max", "image_f1_at_threshold", "false_alarm_rate_at_threshold", "pixel_auroc",
            "pixel_f1max", "aupro", "aupro_small",
            "fit_seconds", "predict_images_per_second", "peak_memory_mb", "n_train", "n_validation", "n_test" };
        var table = new Table().AddColumn("metric").AddColumn("value");
        foreach (string k in keys)
            if (results.ContainsKey(k)) table.AddRow(k, Markup.Escape(results[k]?.ToJsonString() ?? "null"));
        AnsiConsole.Write(table);
        if (run.Update?["mode"] is { } mode) Console.WriteLine($"update: {run.Update["new_fitted"]} new images fitted, "
            + $"{run.Update["new_calibration"]} held out for calibration; {mode}");
        if (run.Threshold != null) Console.WriteLine("threshold: " + run.Threshold.Statement);
        Console.WriteLine($"results: {Path.Combine(outDir, "results.json")}  report: {Path.Combine(outDir, "report.html")}");
    }
}
