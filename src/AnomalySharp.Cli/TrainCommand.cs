using System.CommandLine;
using AnomalySharp.Configuration;
using AnomalySharp.Data;
using AnomalySharp.Engine;
using AnomalySharp.IO;
using AnomalySharp.Models;

namespace AnomalySharp.Cli;

/// <summary>`train`: fit a model on normal images, evaluate it, save it and write a report; or resume an interrupted run.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var model = CommandOptions.Opt("--model",
            $"model to fit: {string.Join(", ", ModelRegistry.Names)} (default padim, or the config file's model.name; "
            + "`anomalysharp models NAME` lists its keys, defaults and ranges)");
        var data = CommandOptions.Opt("--data",
            "dataset root in the MVTec AD layout (train/good, test/<type>, ground_truth/<type>); default: the built-in synthetic dataset");
        var normal = CommandOptions.Opt("--normal-dir",
            "Folder layout: folder of good images, enough on its own (optional --abnormal-dir, --mask-dir)");
        var abnormal = CommandOptions.Opt("--abnormal-dir", "Folder layout: folder of abnormal images (optional: used for metrics only)");
        var masks = CommandOptions.Opt("--mask-dir", "Folder layout: folder of masks for the abnormal images");
        var synthetic = CommandOptions.Opt("--synthetic",
            "kind of built-in synthetic data when no --data is given: texture (default) or object");
        var config = CommandOptions.Opt("--config", "YAML configuration (see configs/); keys not given keep their defaults");
        var set = new Option<string[]>("--set")
        {
            Description = "override a config key: --set model.n_features=50 (repeatable)",
            AllowMultipleArgumentsPerToken = false
        };
        var output = CommandOptions.Opt("--output", "output folder (default runs/<model>-<time>)");
        var seed = new Option<int?>("--seed") { Description = "random seed (default 42)" };
        var threads = new Option<int?>("--threads") { Description = "compute threads (default: all cores)" };
        var overwrite = CommandOptions.Flag("--overwrite", "replace the output folder if it exists");
        var skipBad = CommandOptions.Flag("--skip-bad-images", "skip unreadable images with a warning instead of stopping");
        var resume = CommandOptions.Opt("--resume",
            "trained models: continue an interrupted run from its checkpoint (OUTPUT.training/last.ckpt); its configuration, dataset "
                + "and output are reused (--set may change training.max_epochs, validate_every, patience)");
        var cmd = new Command("train", "fit a model on normal images, evaluate it, save it and write a report")
            { model, data, normal, abnormal, masks, synthetic, config, set, output, seed, threads, overwrite, skipBad, resume };
        cmd.SetAction(p =>
        {
            string? resumePath = p.GetValue(resume);
            ConfigTree tree;
            IAnomalyDataset dataset;
            ResumePlan? plan = null;
            string? outDir = p.GetValue(output);
            bool dataGiven = (p.GetValue(data) ?? p.GetValue(normal) ?? p.GetValue(abnormal) ?? p.GetValue(masks)) != null;
            if (resumePath != null)
            {
                if (p.GetValue(model) != null || p.GetValue(config) != null || p.GetValue(seed) != null || p.GetValue(synthetic) != null)
                    throw new AnomalySharpException("--resume continues with the checkpoint's configuration: drop --model, --config, "
                        + "--seed and --synthetic");
                // The library reads the checkpoint's header once and applies the changes a resumed run allows.
                plan = ResumePlan.Read(resumePath, p.GetValue(set), p.GetValue(threads));
                tree = plan.Config;
                dataset = dataGiven ? CommandOptions.ResolveDataset(p.GetValue(data), p.GetValue(normal), p.GetValue(abnormal),
                    p.GetValue(masks), null, tree.GetInt("seed")) : plan.Dataset();
                outDir ??= plan.Output ?? throw new AnomalySharpException($"{resumePath}: no output folder recorded; give --output");
            }
            else
            {
                tree = CommandOptions.ResolveConfig(p.GetValue(model), p.GetValue(config), p.GetValue(set) ?? Array.Empty<string>(),
                    p.GetValue(seed), p.GetValue(threads), p.GetValue(skipBad));
                dataset = CommandOptions.ResolveDataset(p.GetValue(data), p.GetValue(normal), p.GetValue(abnormal), p.GetValue(masks),
                    p.GetValue(synthetic), tree.GetInt("seed"));
            }
            string name = tree.GetString("model.name");
            outDir ??= Path.Combine("runs", $"{name}-{DateTime.Now:yyyyMMdd-HHmmss}");
            OutputGuard.CheckNotInput(outDir, "output", new OutputGuard.Input(p.GetValue(config), "config file"));
            Console.Error.WriteLine($"train {name} on {dataset.Description}: {dataset.Train.Count} training, {dataset.Test.Count} "
                + $"test images");

            // Ctrl-C or SIGTERM (see Shutdown): a trained model saves a checkpoint after the current batch.
            var results = new ConsoleProgress().Run(r => plan != null
                ? new AnomalyEngine(r, Shutdown.Token).Resume(plan, dataset, outDir, p.GetValue(overwrite), Shutdown.Token)
                : new AnomalyEngine(r, Shutdown.Token).Train(tree, dataset, outDir, p.GetValue(overwrite), cancellation: Shutdown.Token));
            ResultsTable.Print(results, Path.GetFullPath(outDir));
            return 0;
        });
        return cmd;
    }
}
