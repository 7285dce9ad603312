using System.CommandLine;
using AnomalySharp.Data;
using AnomalySharp.Engine;

namespace AnomalySharp.Cli;

/// <summary>`test`: re-evaluate a saved model with its saved thresholds.</summary>
internal static class TestCommand
{
    public static Command Create()
    {
        var modelPath = new Option<string>("--model-path")
        {
            Description = "a training output folder or its model.anomalysharp file",
            Required = true
        };
        var data = CommandOptions.Opt("--data", "dataset root (MVTec layout); default: the dataset recorded in the model");
        var output = new Option<string>("--output")
        {
            Description = "output folder for results.json, images and report.html",
            Required = true
        };
        var overwrite = CommandOptions.Flag("--overwrite", "replace the output folder if it exists");
        var skipBad = CommandOptions.Flag("--skip-bad-images", "skip unreadable images with a warning instead of stopping");
        var cmd = new Command("test", "re-evaluate a saved model with its saved thresholds") { modelPath, data, output, overwrite,
            skipBad };
        cmd.SetAction(p =>
        {
            string? d = p.GetValue(data);
            var dataset = d == null ? null : new MvtecDataset(d);
            var results = new ConsoleProgress().Run(r => new AnomalyEngine(r, Shutdown.Token).Test(p.GetValue(modelPath)!, dataset,
                p.GetValue(output)!, p.GetValue(overwrite), p.GetValue(skipBad)));
            ResultsTable.Print(results, Path.GetFullPath(p.GetValue(output)!));
            return 0;
        });
        return cmd;
    }
}
