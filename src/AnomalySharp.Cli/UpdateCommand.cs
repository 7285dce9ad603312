using System.CommandLine;
using AnomalySharp.Engine;

namespace AnomalySharp.Cli;

/// <summary>`update`: fold new good images into a saved model.</summary>
internal static class UpdateCommand
{
    public static Command Create()
    {
        var modelPath = new Option<string>("--model-path")
        {
            Description = "the model to update: a training output folder or its "
            + "model.anomalysharp file (read, never written)", Required = true
        };
        var normal = new Option<string>("--normal-dir")
        {
            Description = "folder of new good images, or of good images the model "
            + "flagged (false alarms); images it already knows are skipped", Required = true
        };
        var output = CommandOptions.Opt("--output",
            "output folder for the updated model, results.json and report.html (default runs/<model>-update-<time>); the model's own "
                + "folder only with --overwrite");
        var threads = new Option<int?>("--threads") { Description = "compute threads (default: the model's runtime.threads)" };
        var overwrite = CommandOptions.Flag("--overwrite", "replace the output folder if it exists");
        var cmd = new Command("update", "fold new good images into a saved model without starting over: exact for PaDiM, coreset for "
            + "PatchCore, a fine-tune for trained networks; thresholds set again")
            { modelPath, normal, output, threads, overwrite };
        cmd.SetAction(p =>
        {
            string model = p.GetValue(modelPath)!;
            string outDir = p.GetValue(output) ?? Path.Combine("runs", $"update-{DateTime.Now:yyyyMMdd-HHmmss}");
            if (p.GetValue(threads) is { } t && t < 0) throw new AnomalySharpException($"--threads must be 0 (all cores) or more, got {t}");
            Console.Error.WriteLine($"update {model} with {p.GetValue(normal)}");
            var results = new ConsoleProgress().Run(r => new AnomalyEngine(r, Shutdown.Token).Update(model, p.GetValue(normal)!, outDir,
                p.GetValue(overwrite), p.GetValue(threads)));
            ResultsTable.Print(results, Path.GetFullPath(outDir));
            return 0;
        });
        return cmd;
    }
}
