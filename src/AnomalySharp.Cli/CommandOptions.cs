using System.CommandLine;
using System.Globalization;
using AnomalySharp.Configuration;
using AnomalySharp.Data;
using AnomalySharp.Models;

namespace AnomalySharp.Cli;

/// <summary>What several verbs share: option factories, and the configuration and dataset a run is given.</summary>
internal static class CommandOptions
{
    internal static Option<string?> Opt(string name, string description) => new(name) { Description = description };
    internal static Option<bool> Flag(string name, string description) => new(name) { Description = description };

    /// <summary>A number option's value, refused when it is not finite or beyond any sensible range (±1e9).</summary>
    internal static double? Finite(double? value, string option) =>
        value is not { } v || (double.IsFinite(v) && Math.Abs(v) < 1e9) ? value
            : throw new AnomalySharpException(FormattableString.Invariant($"{option} must be a finite number, got {v}"));

    /// <summary>Defaults of the model, then the YAML file, then --seed/--threads/--skip-bad-images, then --set.</summary>
    internal static ConfigTree ResolveConfig(string? model, string? configFile, IReadOnlyList<string> sets, int? seed, int? threads,
        bool skipBad)
    {
        ConfigTree? file = configFile == null ? null : ConfigTree.FromFile(configFile);
        string name = model ?? (file != null && file.Has("model.name") ? file.GetString("model.name") : "padim");
        var tree = ModelRegistry.Defaults(name);
        if (file != null)
        {
            if (file.Has("model.name") && file.GetString("model.name") != name)
                throw new AnomalySharpException($"{configFile}: model.name is '{file.GetString("model.name")}' but --model is '{name}'");
            tree.Merge(file, configFile!);
        }
        if (seed != null) tree.Set($"seed={seed.Value.ToString(CultureInfo.InvariantCulture)}");
        if (threads != null) tree.Set($"runtime.threads={threads.Value.ToString(CultureInfo.InvariantCulture)}");
        if (skipBad) tree.Set("data.skip_bad_images=true");
        foreach (string s in sets)
        {
            if (s.StartsWith("model.name=",
                StringComparison.Ordinal)) throw new AnomalySharpException("--set model.name is not allowed; use --model");
            tree.Set(s);
        }
        return tree;
    }

    internal static IAnomalyDataset ResolveDataset(string? data, string? normal, string? abnormal, string? masks, string? synthetic,
        int seed)
    {
        if (data != null && (normal ?? abnormal ?? masks) != null)
            throw new AnomalySharpException("--data (MVTec layout) and --normal-dir/--abnormal-dir (Folder layout) exclude each other");
        if (data != null) return new MvtecDataset(data);
        if (normal != null || abnormal != null)
        {
            if (normal == null) throw new AnomalySharpException("--abnormal-dir needs --normal-dir (the good images to fit on)");
            if (masks != null && abnormal == null) throw new AnomalySharpException("--mask-dir needs --abnormal-dir (the images its "
                + "masks mark)");
            return new FolderDataset(normal, abnormal, masks, seed: seed);
        }
        if (masks != null) throw new AnomalySharpException("--mask-dir needs --normal-dir and --abnormal-dir");
        var options = new SyntheticDataset.Options(Kind: SyntheticDataset.ParseKind(synthetic ?? "texture", "--synthetic"),
            Seed: seed);
        return SyntheticDataset.Create(SyntheticDataset.DefaultRoot(options), options);
    }
}
