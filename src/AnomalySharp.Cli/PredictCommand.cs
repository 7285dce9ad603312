using System.CommandLine;
using AnomalySharp.Engine;

namespace AnomalySharp.Cli;

/// <summary>`predict`: score images (or a watched folder) with a saved or exported model.</summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var modelPath = new Option<string>("--model-path")
        {
            Description = "a training output folder, its model.anomalysharp file, or "
            + "an exported .onnx model (runs without TorchSharp)", Required = true
        };
        var input = CommandOptions.Opt("--input", "an image file or a folder of images");
        var output = new Option<string>("--output")
        {
            Description = "output folder: heatmaps/, masks/, predictions.jsonl",
            Required = true
        };
        var watch = CommandOptions.Opt("--watch", "score every new image that appears in this folder, writing as it goes, until Ctrl-C");
        var batch = new Option<int?>("--batch-size")
        {
            Description = "images per batch (default: 16 for an .onnx model, the config's data.batch_size for a saved model; 1 for --watch)"
        };
        var threads = new Option<int?>("--threads")
        {
            Description = "compute threads (default: all cores, or a saved model's runtime.threads)"
        };
        var overwrite = CommandOptions.Flag("--overwrite", "replace the output folder if it exists");
        var skipBad = CommandOptions.Flag("--skip-bad-images", "skip unreadable images with a warning instead of stopping");
        var cmd = new Command("predict", "score images with a saved or exported model: heat maps, masks and one JSON line per image")
            { modelPath, input, output, watch, batch, threads, overwrite, skipBad };
        cmd.SetAction(p =>
        {
            string model = p.GetValue(modelPath)!, outDir = p.GetValue(output)!;
            string? inPath = p.GetValue(input), watchDir = p.GetValue(watch);
            if ((inPath == null) == (watchDir == null)) throw new AnomalySharpException("predict needs exactly one of --input (file "
                + "or folder) and --watch (folder)");
            // Unset, a saved model uses its config's data.batch_size and runtime.threads (see Predictor).
            int? batchSize = p.GetValue(batch) ?? (watchDir != null ? 1 : null);
            if (batchSize is < 1 or > 1024) throw new AnomalySharpException($"--batch-size must be 1..1024, got {batchSize}");
            if (p.GetValue(threads) is < 0) throw new AnomalySharpException($"--threads must be positive, got {p.GetValue(threads)}");
            // A watch appends to its output as it goes and ends with exit 0 on a signal: never cut short while idle.
            if (watchDir != null) Shutdown.StopAtOnceWhenIdle = false;
            var progress = new ConsoleProgress();
            if (inPath != null) Predictor.ListInputs(inPath); // a missing input is named before the model is loaded
            using var predictor = new Predictor(model, batchSize, p.GetValue(threads), p.GetValue(skipBad), progress, Shutdown.Token);
            if (watchDir != null)
            {
                // Watching ends with Ctrl-C or SIGTERM by design: every image seen so far is written, exit 0.
                int n = predictor.Watch(watchDir, outDir, Shutdown.Token, TimeSpan.FromMilliseconds(200));
                Console.WriteLine($"stopped watching: {n} images -> {Path.GetFullPath(outDir)}");
                return 0;
            }
            var (count, secs) = progress.Run(_ => predictor.Run(inPath!, outDir, p.GetValue(overwrite)));
            string rate = FormattableString.Invariant($"{secs:0.0} s ({count / secs:0.0} images/s");
            Console.WriteLine($"predicted {count} images in {rate}, onnxruntime, batch {predictor.BatchSize}) -> "
                + $"{Path.GetFullPath(outDir)}");
            return 0;
        });
        return cmd;
    }
}
