using System.Text.Json.Nodes;
using AnomalySharp.Diagnostics;

namespace AnomalySharp.Benchmarking;

/// <summary>The grid: models × datasets × seeds, with overrides for all models or per model.</summary>
internal sealed record BenchmarkPlan
{
    /// <summary>Model names.</summary>
    public required IReadOnlyList<string> Models { get; init; }
    /// <summary>Dataset specs (folders, or "synthetic", "synthetic:object").</summary>
    public required IReadOnlyList<string> Data { get; init; }
    /// <summary>Seeds.</summary>
    public IReadOnlyList<int> Seeds { get; init; } = new[] { 42 };
    /// <summary>KEY=VALUE overrides for every cell.</summary>
    public IReadOnlyList<string> Sets { get; init; } = Array.Empty<string>();
    /// <summary>Overrides per model.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> ModelSets { get; init; } = new Dictionary<string, IReadOnlyList<string>>();
    /// <summary>
    /// Named settings each model runs under in turn (e.g. working sizes and tilings), in the file's order; none: one
    /// unnamed run per model. A model's column in the report is then MODEL@VARIANT.
    /// </summary>
    public IReadOnlyList<(string Name, IReadOnlyList<string> Sets)> Variants { get; init; } = new[] { ("",
        (IReadOnlyList<string>)Array.Empty<string>()) };

    /// <summary>The report's column of a model under a variant.</summary>
    public static string Label(string model, string variant) => variant.Length == 0 ? model : $"{model}@{variant}";

    /// <summary>Every model under every variant, as the report's columns.</summary>
    public IReadOnlyList<string> Labels => Models.SelectMany(m => Variants.Select(v => Label(m, v.Name))).ToList();

    /// <summary>Reads a plan from YAML: models, data, seeds, set (list), model_set (map of model to list), variants (map of name to
    /// list).</summary>
    public static BenchmarkPlan Load(string path)
    {
        var tree = Configuration.ConfigTree.FromFile(path);
        var known = new[] { "models", "data", "seeds", "set", "model_set", "variants" };
        foreach (string key in tree.TopLevelKeys())
            if (!known.Contains(key)) throw new AnomalySharpException($"{path}: unknown key '{key}' (known: {string.Join(", ", known)})");
        if (!tree.Has("models") || !tree.Has("data")) throw new AnomalySharpException($"{path}: needs 'models' and 'data' lists");
        var modelSets = new Dictionary<string, IReadOnlyList<string>>();
        if (tree.Has("model_set"))
            foreach (string m in tree.ChildKeys("model_set")) modelSets[m] = tree.GetStringList($"model_set.{m}");
        var variants = new List<(string, IReadOnlyList<string>)>();
        if (tree.Has("variants"))
            foreach (string v in tree.ChildKeys("variants"))
            {
                if (v.Length == 0 || v.Any(ch => !char.IsAsciiLetterOrDigit(ch) && ch is not ('-' or '_' or '.')))
                    throw new AnomalySharpException($"{path}: variant name '{v}' must be letters, digits, '-', '_' or '.' (it names "
                        + $"the cells' folders)");
                variants.Add((v, tree.GetStringList($"variants.{v}")));
            }
        string baseDir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        return new BenchmarkPlan
        {
            Models = tree.GetStringList("models"),
            Data = tree.GetStringList("data").Select(d => d.StartsWith("synthetic",
                StringComparison.Ordinal) ? d : Path.GetFullPath(Path.Combine(baseDir, d))).ToList(),
            Seeds = tree.Has("seeds") ? tree.GetStringList("seeds").Select(s => int.TryParse(s,
                out int v) ? v : throw new AnomalySharpException($"{path}: seed '{s}' is not an integer")).ToList() : new[] { 42 },
            Sets = tree.Has("set") ? tree.GetStringList("set") : Array.Empty<string>(),
            ModelSets = modelSets,
            Variants = variants.Count > 0 ? variants : new[] { ("", (IReadOnlyList<string>)Array.Empty<string>()) },
        };
    }
}

/// <summary>One cell to run.</summary>
/// <param name="Data">Dataset spec.</param>
/// <param name="Model">Model name.</param>
/// <param name="Seed">Seed.</param>
/// <param name="Sets">Overrides.</param>
/// <param name="Output">The cell's folder.</param>
/// <param name="Variant">The variant's name ("" without variants).</param>
internal sealed record BenchmarkCellRequest(string Data, string Model, int Seed, IReadOnlyList<string> Sets, string Output,
    string Variant = "");

/// <summary>
/// Runs a grid, one cell at a time through <c>runCell</c> (the CLI runs each in its own process, so a failing cell
/// does not end the grid), skipping cells whose cell.json exists (a stopped grid resumes), and writes
/// benchmark.csv, benchmark.md and benchmark.html.
/// </summary>
internal sealed class BenchmarkGrid
{
    readonly BenchmarkPlan _plan;
    readonly Func<BenchmarkCellRequest, string?> _runCell;
    readonly IProgressReporter _progress;

    /// <summary>Creates the grid; <paramref name="runCell"/> returns null on success or an error message.</summary>
    public BenchmarkGrid(BenchmarkPlan plan, Func<BenchmarkCellRequest, string?> runCell, IProgressReporter? progress = null)
    {
        foreach (string m in plan.Models) Models.ModelRegistry.Defaults(m); // unknown models fail before any work
        foreach (string d in plan.Data)
            if (!d.StartsWith("synthetic",
                StringComparison.Ordinal) && !Directory.Exists(d)) throw new AnomalySharpException($"{OptionText.Name("data")}: "
                    + $"folder not found: {d}");
        if (plan.Models.Count == 0 || plan.Data.Count == 0 || plan.Seeds.Count == 0) throw new AnomalySharpException("benchmark: give "
            + "at least one model, dataset and seed");
        Once(plan.Models, "models");
        Once(plan.Data, "data");
        Once(plan.Seeds.Select(s => s.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList(), "seeds");
        _plan = plan; _runCell = runCell; _progress = progress ?? NullProgress.Instance;
    }

    /// <summary>A value listed twice would be one cell reported twice.</summary>
    static void Once(IReadOnlyList<string> values, string what)
    {
        if (values.GroupBy(v => v, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new AnomalySharpException($"{OptionText.Name(what)}: '{twice.Key}' is listed {twice.Count()} times; list each once");
    }

    /// <summary>The folder name of a cell.</summary>
    public static string CellId(string data, string model, int seed, string variant = "") =>
        $"{BenchmarkCell.DataName(data)}__{BenchmarkPlan.Label(model, variant)}__s{seed}";

    /// <summary>
    /// The folder name of a cell in this plan: datasets whose folders have the same name (x1/hz and x2/hz) get a short
    /// hash of their full path after it, so that each has cells of its own.
    /// </summary>
    string PlanCellId(string data, string model, int seed, string variant)
    {
        string id = CellId(data, model, seed, variant);
        bool shared = _plan.Data.Count(d => BenchmarkCell.DataName(d) == BenchmarkCell.DataName(data)) > 1;
        if (!shared) return id;
        string hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(data)))[..8];
        return BenchmarkCell.DataName(data) + "-" + hash + id[BenchmarkCell.DataName(data).Length..];
    }

    /// <summary>Reads a kept cell, refusing one that was run on other data (a silently wrong benchmark is worse than none).</summary>
    static JsonObject ReadKept(string cellJson, string data, string output)
    {
        JsonObject cell;
        try { cell = JsonNode.Parse(File.ReadAllText(cellJson))!.AsObject(); }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or NullReferenceException)
        {
            throw new AnomalySharpException($"{cellJson}: damaged ({e.Message.Split('\n')[0]}); delete that cell's folder to run it again");
        }
        if (cell["data_spec"] is JsonValue spec && spec.TryGetValue(out string? was) && was != data)
            throw new AnomalySharpException($"{cellJson}: this cell was run on {was}, not {data}; use another "
                + $"{OptionText.Name("output")} than {output} for other data");
        return cell;
    }

    /// <summary>Runs missing cells and writes the reports; returns the cells (failed ones carry "error").</summary>
    public List<JsonObject> Run(string output, CancellationToken cancellation = default)
    {
        IO.OutputGuard.CheckNotInput(output, "output", _plan.Data.Where(d => !d.StartsWith("synthetic", StringComparison.Ordinal))
            .Select(d => new IO.OutputGuard.Input(d, "data folder")).ToArray());
        string cellsRoot = Path.Combine(output, "cells");
        using var folder = new IO.ResumableFolder(output,
            () => Directory.Exists(cellsRoot) && Directory.EnumerateFiles(cellsRoot, "cell.json", SearchOption.AllDirectories).Any());
        var cells = new List<JsonObject>();
        var all = (from d in _plan.Data from m in _plan.Models from v in _plan.Variants from s in _plan.Seeds select (d, m, v, s)).ToList();
        using (var step = _progress.Start("benchmark cells", all.Count))
            foreach (var (data, model, variant, seed) in all)
            {
                cancellation.ThrowIfCancellationRequested();
                string id = PlanCellId(data, model, seed, variant.Name), label = BenchmarkPlan.Label(model, variant.Name);
                string dir = Path.Combine(output, "cells", id);
                string cellJson = Path.Combine(dir, "cell.json");
                if (!File.Exists(cellJson))
                {
                    var sets = _plan.Sets.Concat(_plan.ModelSets.TryGetValue(model,
                        out var ms) ? ms : Array.Empty<string>()).Concat(variant.Sets).ToList();
                    _progress.Message($"cell {id}: running");
                    string? error = _runCell(new BenchmarkCellRequest(data, model, seed, sets, dir, variant.Name));
                    if (error != null && error.StartsWith("error: ", StringComparison.Ordinal)) error = error[7..];
                    if (error != null || !File.Exists(cellJson))
                    {
                        _progress.Message($"cell {id}: failed: {error ?? "no cell.json"}");
                        cells.Add(new JsonObject
                        {
                            ["data"] = BenchmarkCell.DataName(data), ["model"] = label, ["seed"] = seed,
                            ["error"] = error ?? "no cell.json"
                        });
                        step.Advance(1);
                        continue;
                    }
                }
                else _progress.Message($"cell {id}: done before, kept");
                var cell = ReadKept(cellJson, data, output);
                cell["model"] = label;
                if (variant.Name.Length > 0) cell["variant"] = variant.Name;
                string curves = Path.Combine(dir, "run", "curves.json");
                if (File.Exists(curves)) cell["curves"] = JsonNode.Parse(File.ReadAllText(curves));
                cells.Add(cell);
                step.Advance(1);
            }
        BenchmarkReport.Write(output, cells, _plan.Labels);
        folder.Complete();
        return cells;
    }
}
