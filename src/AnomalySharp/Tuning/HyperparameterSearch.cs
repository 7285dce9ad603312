using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;

namespace AnomalySharp.Tuning;

/// <summary>What a trial runs: the model, the data folder, the seed, and `--set` overrides; the result is results.json.</summary>
/// <param name="Model">Model name.</param>
/// <param name="Data">MVTec-layout folder.</param>
/// <param name="Seed">Seed.</param>
/// <param name="Sets">KEY=VALUE overrides (base settings first, then the trial's).</param>
/// <param name="Output">Output folder of the run.</param>
internal sealed record TrialRequest(string Model, string Data, int Seed, IReadOnlyList<string> Sets, string Output);

/// <summary>Settings of a search.</summary>
internal sealed record SearchSettings
{
    /// <summary>Model name.</summary>
    public required string Model { get; init; }
    /// <summary>MVTec-layout dataset.</summary>
    public required string Data { get; init; }
    /// <summary>The space.</summary>
    public required SearchSpace Space { get; init; }
    /// <summary>The sampler.</summary>
    public required ISampler Sampler { get; init; }
    /// <summary>A numeric key of results.json to maximize.</summary>
    public string Metric { get; init; } = "image_auroc";
    /// <summary>Trials, the first of which is the default configuration.</summary>
    public int Trials { get; init; } = 10;
    /// <summary>Seed of the split and the sampler, and of every run.</summary>
    public int Seed { get; init; } = 42;
    /// <summary>Fraction of test images, per defect type, used for validation.</summary>
    public double ValidationFraction { get; init; } = 0.5;
    /// <summary>Overrides applied to every trial (e.g. data.image_size=128).</summary>
    public IReadOnlyList<string> BaseSets { get; init; } = Array.Empty<string>();
}

/// <summary>
/// Hyper-parameter search: trials on a validation split of the test images (never the final part), trial 0 the
/// defaults; results sorted by the metric in hpo.md and trials.csv; the best configuration as best.yaml that
/// `train --config` accepts; then default and best evaluated once on the final part (final.json). Every finished
/// trial is appended to trials.jsonl, so a stopped search resumes where it left off with the same proposals.
/// </summary>
internal sealed class HyperparameterSearch
{
    readonly SearchSettings _s;
    readonly Func<TrialRequest, JsonObject> _run;
    readonly IProgressReporter _progress;
    readonly CancellationToken _cancellation;

    /// <summary>Creates a search; <paramref name="runTrial"/> runs one training run and returns its results.json.</summary>
    public HyperparameterSearch(SearchSettings settings, Func<TrialRequest, JsonObject> runTrial, IProgressReporter? progress = null,
        CancellationToken cancellation = default)
    {
        _cancellation = cancellation;
        if (settings.Trials < 1) throw new AnomalySharpException($"{OptionText.Name("trials")} must be at least 1, got {settings.Trials}");
        if (!Metrics.Contains(settings.Metric))
            throw new AnomalySharpException($"{OptionText.Name("metric")} '{settings.Metric}': not a metric to maximize (known: "
                + $"{string.Join(", ", Metrics)})");
        _s = settings; _run = runTrial; _progress = progress ?? NullProgress.Instance;
    }

    /// <summary>
    /// The results.json metrics a search may maximize, checked before the first trial (an unknown one used to be found
    /// only once trial 0 had trained).
    /// </summary>
    public static readonly IReadOnlyList<string> Metrics = new[]
    {
        "image_auroc", "image_f1max", "image_aupr", "pixel_auroc", "pixel_f1max", "pixel_aupr", "aupr", "aupro", "aupro_small",
        "image_accuracy_at_threshold",
    };

    string Fingerprint() => JsonSerializer.Serialize(new
    {
        _s.Model, Data = Path.GetFullPath(_s.Data), _s.Metric, Sampler = _s.Sampler.Name, _s.Seed, _s.ValidationFraction, _s.BaseSets,
        Space = _s.Space.Parameters.Select(p => $"{p.Key}:{p.Kind}:{p.Low}:{p.High}:{string.Join("|", p.Choices)}"),
    });

    /// <summary>Runs (or resumes) the search into <paramref name="output"/> and returns the summary.</summary>
    public JsonObject Run(string output)
    {
        var data = new MvtecDataset(_s.Data);
        IO.OutputGuard.CheckNotInput(output, "output", Engine.AnomalyEngine.DatasetInputs(data));
        string log = Path.Combine(output, "trials.jsonl");
        using var folder = new IO.ResumableFolder(output, () => File.Exists(log));
        string statePath = Path.Combine(output, "search.json");
        string fingerprint = Fingerprint();
        if (File.Exists(statePath) && File.ReadAllText(statePath) != fingerprint)
            throw new AnomalySharpException($"{output} holds a different search (other model, data, space, metric, sampler or seed); "
                + $"choose another {OptionText.Name("output")}");
        File.WriteAllText(statePath, fingerprint);
        string validationRoot = Path.Combine(output, "validation-data"), finalRoot = Path.Combine(output, "final-data");
        var (nVal, nFinal) = DatasetSplit.Write(data, _s.ValidationFraction, _s.Seed, validationRoot, finalRoot);
        _progress.Message($"hpo: {_s.Trials} trials of {_s.Model} ({_s.Sampler.Name}) on {nVal} validation images; {nFinal} final "
            + $"test images kept aside");

        var trials = File.Exists(log) ? File.ReadAllLines(log).Where(l => l.Length > 0).Select((l, i) => ParseTrial(l, log,
            i)).ToList() : new List<JsonObject>();
        if (trials.Count > 0) _progress.Message($"hpo: resuming after {trials.Count} finished trials");
        using (var step = _progress.Start("hpo trials", _s.Trials))
        {
            step.Advance(Math.Min(trials.Count, _s.Trials));
            for (int t = trials.Count; t < _s.Trials; t++)
            {
                _cancellation.ThrowIfCancellationRequested();
                var history = trials.Select(ToObservation).ToList();
                var point = t == 0 ? new Dictionary<string, double>() : _s.Sampler.Suggest(_s.Space, history,
                    new Random(unchecked(_s.Seed * 1_000_003 + t)));
                var sets = _s.Space.Parameters.Where(p => point.ContainsKey(p.Key)).Select(p
                    => $"{p.Key}={p.Format(point[p.Key])}").ToList();
                double value;
                string? error = null;
                try
                {
                    var results = _run(new TrialRequest(_s.Model, validationRoot, _s.Seed, _s.BaseSets.Concat(sets).ToList(),
                        Path.Combine(output, "trials", $"{t:000}")));
                    value = results[_s.Metric] is JsonValue v && v.TryGetValue(out double d) ? d
                        : throw new AnomalySharpException($"{OptionText.Name("metric")} '{_s.Metric}' is not a number in results.json "
                            + $"(e.g. image_auroc, pixel_auroc, aupro, image_f1max)");
                }
                catch (AnomalySharpException e) when (t > 0) { value = double.NaN; error = e.Message; }
                var record = new JsonObject
                {
                    ["trial"] = t,
                    ["value"] = double.IsNaN(value) ? null : value,
                    ["error"] = error,
                    ["sets"] = new JsonArray(sets.Select(s => (JsonNode)s).ToArray()),
                    ["point"] = new JsonObject(point.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
                };
                File.AppendAllText(log, record.ToJsonString() + "\n");
                trials.Add(record);
                string result = double.IsNaN(value) ? "failed: " + error : value.ToString("0.0000", CultureInfo.InvariantCulture);
                _progress.Message($"trial {t}: {_s.Metric} = {result} {string.Join(" ", sets)}");
                step.Advance(1);
            }
        }
        var summary = Summarize(output, trials, finalRoot);
        folder.Complete();
        return summary;
    }

    static Observation ToObservation(JsonObject t) => new(
        t["point"]!.AsObject().ToDictionary(kv => kv.Key, kv => (double)kv.Value!),
        t["value"] is JsonValue v && v.TryGetValue(out double d) ? d : double.NaN);

    JsonObject Summarize(string output, List<JsonObject> trials, string finalRoot)
    {
        var ranked = trials.Where(t => t["value"] is JsonValue).OrderByDescending(t => (double)t["value"]!).ThenBy(t
            => (int)t["trial"]!).ToList();
        if (ranked.Count == 0) throw new AnomalySharpException("hpo: every trial failed");
        var best = ranked[0];
        var bestSets = best["sets"]!.AsArray().Select(n => (string)n!).ToList();
        File.WriteAllText(Path.Combine(output, "best.yaml"), ToYaml(_s.Model, _s.BaseSets.Concat(bestSets)));

        var md = new StringBuilder();
        md.Append(CultureInfo.InvariantCulture,
            $"# HPO: {_s.Model}, {_s.Metric} on the validation split ({_s.Sampler.Name}, seed {_s.Seed})\n\n| rank | trial | "
                + $"{_s.Metric} | settings |\n|---|---|---|---|\n");
        var csv = new StringBuilder("rank,trial,value,settings\n");
        int rank = 1;
        foreach (var t in ranked.Concat(trials.Except(ranked)))
        {
            string settings = t["sets"]!.AsArray().Count == 0 ? "(defaults)" : string.Join(" ",
                t["sets"]!.AsArray().Select(n => (string)n!));
            string value = t["value"] is JsonValue ? ((double)t["value"]!).ToString("0.0000", CultureInfo.InvariantCulture) : "failed";
            string shown = t["value"] is JsonValue ? rank++.ToString(CultureInfo.InvariantCulture) : "–";
            md.Append(CultureInfo.InvariantCulture,
                $"| {shown} | {t["trial"]} | {value} | {settings}{(t["error"] is JsonValue e ? " — " + e : "")} |\n");
            csv.Append(CultureInfo.InvariantCulture,
                $"{shown},{t["trial"]},{value},\"{settings.Replace("\"", "'", StringComparison.Ordinal)}\"\n");
        }

        // The final test part, seen once: defaults and the best configuration.
        var finalResults = new JsonObject();
        foreach (var (label, sets) in new[] { ("default", new List<string>()), ("best", bestSets) })
        {
            string dir = Path.Combine(output, "final", label);
            var results = File.Exists(Path.Combine(dir, "results.json"))
                ? JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "results.json")))!.AsObject()
                : _run(new TrialRequest(_s.Model, finalRoot, _s.Seed, _s.BaseSets.Concat(sets).ToList(), dir));
            finalResults[label] = new JsonObject
            {
                ["sets"] = new JsonArray(sets.Select(s => (JsonNode)s).ToArray()),
                ["image_auroc"] = results["image_auroc"]?.DeepClone(), ["pixel_auroc"] = results["pixel_auroc"]?.DeepClone(),
                ["aupro"] = results["aupro"]?.DeepClone(), [_s.Metric] = results[_s.Metric]?.DeepClone(),
            };
        }
        double defaultValue = (double)trials.First(t => (int)t["trial"]! == 0)["value"]!;
        var summary = new JsonObject
        {
            ["model"] = _s.Model, ["metric"] = _s.Metric, ["sampler"] = _s.Sampler.Name, ["trials"] = trials.Count,
            ["default_validation"] = defaultValue, ["best_validation"] = (double)best["value"]!, ["best_trial"] = (int)best["trial"]!,
            ["best_sets"] = new JsonArray(bestSets.Select(s => (JsonNode)s).ToArray()), ["final_test"] = finalResults,
        };
        md.Append(CultureInfo.InvariantCulture,
            $"\nValidation: default {defaultValue:0.0000}, best {(double)best["value"]!:0.0000} (trial {best["trial"]}).\n\n");
        md.Append("Final test part (never used by the search):\n\n| config | image AUROC | pixel AUROC | AUPRO |\n|---|---|---|---|\n");
        foreach (var (label, r) in finalResults) md.Append(CultureInfo.InvariantCulture,
            $"| {label} | {r!["image_auroc"]} | {r["pixel_auroc"]} | {r["aupro"]} |\n");
        File.WriteAllText(Path.Combine(output, "hpo.md"), md.ToString());
        File.WriteAllText(Path.Combine(output, "trials.csv"), csv.ToString());
        File.WriteAllText(Path.Combine(output, "final.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return summary;
    }

    /// <summary>Nested YAML for model.name plus dotted overrides (values are already YAML).</summary>
    public static string ToYaml(string model, IEnumerable<string> sets)
    {
        var tree = new SortedDictionary<string, object>(StringComparer.Ordinal)
        {
            ["model"] = new SortedDictionary<string,
            object>(StringComparer.Ordinal)
            { ["name"] = model }
        };
        foreach (string s in sets)
        {
            int eq = s.IndexOf('=', StringComparison.Ordinal);
            var parts = s[..eq].Split('.');
            var node = tree;
            for (int i = 0; i < parts.Length - 1; i++)
            {
                if (!node.TryGetValue(parts[i], out var child)) node[parts[i]] = child = new SortedDictionary<string,
                    object>(StringComparer.Ordinal);
                node = (SortedDictionary<string, object>)child;
            }
            node[parts[^1]] = s[(eq + 1)..];
        }
        var sb = new StringBuilder("# best configuration found by anomalysharp hpo; use with: anomalysharp train --config best.yaml\n");
        void Write(SortedDictionary<string, object> n, int depth)
        {
            foreach (var (k, v) in n)
            {
                if (v is SortedDictionary<string, object> child)
                {
                    sb.Append(' ', depth * 2).Append(k).Append(":\n"); Write(child,
                    depth + 1);
                }
                else sb.Append(' ', depth * 2).Append(k).Append(": ").Append(v).Append('\n');
            }
        }
        Write(tree, 0);
        return sb.ToString();
    }

    /// <summary>One line of trials.jsonl; a damaged one is an error naming the file and line.</summary>
    static JsonObject ParseTrial(string line, string log, int index)
    {
        try { return JsonNode.Parse(line)?.AsObject() ?? throw new InvalidOperationException("null"); }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException)
        {
            throw new AnomalySharpException($"{log}: line {index + 1} is damaged ({e.Message.Split('\n')[0]}); remove it (or the "
                + $"file) to run that trial again");
        }
    }
}
