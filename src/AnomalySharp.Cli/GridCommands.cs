using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using AnomalySharp.Benchmarking;
using AnomalySharp.Models;
using AnomalySharp.Tuning;
using Spectre.Console;

namespace AnomalySharp.Cli;

/// <summary>`benchmark` (a models × datasets × seeds grid, one process per cell) and `hpo` (hyper-parameter search).</summary>
internal static class GridCommands
{
    static List<string> SplitList(string? s) => (s ?? "").Split(',',
        StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

    public static Command Benchmark()
    {
        var config = new Option<string?>("--config")
        {
            Description = "benchmark YAML: models, data, seeds, set, model_set, variants "
            + "(see configs/benchmark.yaml, configs/high-resolution.yaml)"
        };
        var models = new Option<string?>("--models") { Description = "comma-separated models, e.g. padim,patchcore" };
        var data = new Option<string?>("--data")
        {
            Description = "comma-separated MVTec-layout folders; 'synthetic' (or synthetic:object) for the built-in set"
        };
        var seeds = new Option<string?>("--seeds") { Description = "comma-separated seeds (default 42)" };
        var set = new Option<string[]>("--set") { Description = "override a config key in every cell (repeatable)" };
        var output = new Option<string?>("--output") { Description = "output folder (default runs/benchmark); an existing one is resumed" };
        var threads = new Option<int?>("--threads") { Description = "compute threads per cell (default: all cores)" };
        var cmd = new Command("benchmark",
            "run a models × datasets × seeds grid (one process per cell, resumable): benchmark.csv, .md, .html")
            { config, models, data, seeds, set, output, threads };
        cmd.SetAction(p =>
        {
            BenchmarkPlan plan;
            if (p.GetValue(config) is { } file)
            {
                if (p.GetValue(models) != null || p.GetValue(data) != null || p.GetValue(seeds) != null)
                    throw new AnomalySharpException("--config and --models/--data/--seeds exclude each other");
                plan = BenchmarkPlan.Load(file);
                if (p.GetValue(set) is { Length: > 0 } extra) plan = plan with { Sets = plan.Sets.Concat(extra).ToList() };
            }
            else
            {
                var ms = SplitList(p.GetValue(models));
                var ds = SplitList(p.GetValue(data));
                if (ms.Count == 0 || ds.Count == 0) throw new AnomalySharpException("benchmark needs --models and --data (or --config)");
                var ss = SplitList(p.GetValue(seeds) ?? "42").Select(s => int.TryParse(s, NumberStyles.Integer,
                    CultureInfo.InvariantCulture, out int v)
                    ? v : throw new AnomalySharpException($"--seeds: '{s}' is not an integer")).ToList();
                plan = new BenchmarkPlan
                {
                    Models = ms, Data = ds.Select(d => d.StartsWith("synthetic",
                    StringComparison.Ordinal) ? d : Path.GetFullPath(d)).ToList(), Seeds = ss,
                    Sets = p.GetValue(set) ?? Array.Empty<string>()
                };
            }
            int? t = p.GetValue(threads);
            string outDir = p.GetValue(output) ?? Path.Combine("runs", "benchmark");
            var progress = new ConsoleProgress();
            var grid = new BenchmarkGrid(plan, request =>
            {
                var args = new List<string> { "benchmark-cell", "--data", request.Data, "--model", request.Model, "--seed",
                    request.Seed.ToString(CultureInfo.InvariantCulture), "--output", request.Output };
                foreach (string s in request.Sets) { args.Add("--set"); args.Add(s); }
                if (t != null) { args.Add("--threads"); args.Add(t.Value.ToString(CultureInfo.InvariantCulture)); }
                foreach (var m in PluginLoader.Loaded) { args.Add("--plugin"); args.Add(m); }
                var (code, error) = SelfProcess.Run(args, request.Output, cancellation: Shutdown.Token);
                return code == 0 ? null : error;
            }, progress);
            IO.OutputGuard.CheckNotInput(outDir, "output", new IO.OutputGuard.Input(p.GetValue(config), "config file"));
            var cells = progress.Run(_ => grid.Run(outDir, Shutdown.Token));
            Console.WriteLine(File.ReadAllText(Path.Combine(outDir, "benchmark.md")));
            Console.WriteLine($"benchmark: {cells.Count(c => c["error"] is null)} of {cells.Count} cells -> "
                + $"{Path.GetFullPath(outDir)}/benchmark.{{md,csv,html}}");
            return cells.All(c => c["error"] is null) ? 0 : 1;
        });
        return cmd;
    }

    public static Command BenchmarkCell()
    {
        var data = new Option<string>("--data") { Required = true };
        var model = new Option<string>("--model") { Required = true };
        var seed = new Option<int>("--seed") { Required = true };
        var set = new Option<string[]>("--set");
        var output = new Option<string>("--output") { Required = true };
        var threads = new Option<int?>("--threads");
        var cmd = new Command("benchmark-cell", "one cell of a benchmark grid (run by `benchmark`)") { data, model, seed, set, output,
            threads };
        cmd.Hidden = true;
        cmd.SetAction(p =>
        {
            Benchmarking.BenchmarkCell.Run(p.GetValue(data)!, p.GetValue(model)!, p.GetValue(seed),
                p.GetValue(set) ?? Array.Empty<string>(), p.GetValue(output)!, p.GetValue(threads), Shutdown.Token);
            return 0;
        });
        return cmd;
    }

    public static Command Hpo()
    {
        var model = new Option<string>("--model") { Description = "model to tune", Required = true };
        var data = new Option<string>("--data")
        {
            Description = "MVTec-layout dataset (its test images are split into validation and final parts)", Required = true
        };
        var space = new Option<string>("--space") { Description = "search space YAML (see configs/hpo-padim.yaml)", Required = true };
        var trials = new Option<int?>("--trials") { Description = "number of trials, the first being the defaults (default 10)" };
        var metric = new Option<string?>("--metric") { Description = "results.json key to maximize (default image_auroc)" };
        var sampler = new Option<string?>("--sampler") { Description = "tpe (default) or random" };
        var seed = new Option<int?>("--seed") { Description = "seed of the split, the sampler and every run (default 42)" };
        var fraction = new Option<double?>("--validation-fraction")
        {
            Description = "share of the test images (per defect type) used for validation (default 0.5)"
        };
        var set = new Option<string[]>("--set") { Description = "override a config key in every trial (repeatable)" };
        var output = new Option<string?>("--output")
        {
            Description = "output folder (default runs/hpo-<model>); an existing one is resumed"
        };
        var threads = new Option<int?>("--threads") { Description = "compute threads per trial (default: all cores)" };
        var cmd = new Command("hpo", "hyper-parameter search on a validation split: trials table, best.yaml for train --config, final "
            + "test figures")
            { model, data, space, trials, metric, sampler, seed, fraction, set, output, threads };
        cmd.SetAction(p =>
        {
            string m = p.GetValue(model)!;
            var defaults = ModelRegistry.Defaults(m);
            var baseSets = (p.GetValue(set) ?? Array.Empty<string>()).ToList();
            foreach (string s in baseSets) defaults.Clone().Set(s); // a bad override fails now, not in trial 0
            ISampler chosen = (p.GetValue(sampler) ?? "tpe") switch
            {
                "tpe" => new TpeSampler(),
                "random" => new RandomSampler(),
                var other => throw new AnomalySharpException($"--sampler: unknown sampler '{other}' (tpe, random)"),
            };
            int? t = p.GetValue(threads);
            var settings = new SearchSettings
            {
                Model = m, Data = p.GetValue(data)!, Space = SearchSpace.Load(p.GetValue(space)!, defaults), Sampler = chosen,
                Metric = p.GetValue(metric) ?? "image_auroc", Trials = p.GetValue(trials) ?? 10, Seed = p.GetValue(seed) ?? 42,
                ValidationFraction = p.GetValue(fraction) ?? 0.5, BaseSets = baseSets,
            };
            string outDir = p.GetValue(output) ?? Path.Combine("runs", $"hpo-{m}");
            var progress = new ConsoleProgress();
            var search = new HyperparameterSearch(settings, request =>
            {
                var args = new List<string> { "train", "--model", request.Model, "--data", request.Data, "--seed",
                    request.Seed.ToString(CultureInfo.InvariantCulture),
                    "--output", request.Output, "--overwrite", "--set", "visualization.save_images=false" };
                foreach (string s in request.Sets) { args.Add("--set"); args.Add(s); }
                if (t != null) { args.Add("--threads"); args.Add(t.Value.ToString(CultureInfo.InvariantCulture)); }
                foreach (var plugin in PluginLoader.Loaded) { args.Add("--plugin"); args.Add(plugin); }
                var (code, error) = SelfProcess.Run(args, request.Output, cancellation: Shutdown.Token);
                string results = Path.Combine(request.Output, "results.json");
                if (code != 0 || !File.Exists(results)) throw new AnomalySharpException($"trial run failed: {error}");
                return JsonNode.Parse(File.ReadAllText(results))!.AsObject();
            }, progress, Shutdown.Token);
            IO.OutputGuard.CheckNotInput(outDir, "output", new IO.OutputGuard.Input(p.GetValue(space), "search space file"));
            var summary = progress.Run(_ => search.Run(outDir));
            Console.WriteLine(File.ReadAllText(Path.Combine(outDir, "hpo.md")));
            Console.WriteLine($"best configuration: {Path.GetFullPath(Path.Combine(outDir, "best.yaml"))} (anomalysharp train "
                + $"--config it)");
            return 0;
        });
        return cmd;
    }
}
