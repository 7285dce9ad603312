using AnomalySharp.Configuration;

namespace AnomalySharp.Models;

/// <summary>One configuration key of a model: its default and what it accepts.</summary>
/// <param name="Key">The dotted key, e.g. "model.pooling_kernel_size".</param>
/// <param name="Default">The default value as YAML writes it.</param>
/// <param name="Accepts">What the model's own check accepts ("integer 1 .. 64", "one of fre, nll"); empty where the key is
/// read as free text or checked only when used (a path, a list of layers).</param>
public sealed record ModelKey(string Key, string Default, string Accepts);

/// <summary>
/// A model's keys with their defaults and ranges, learned by building the model from its defaults and recording what
/// each check reads (<see cref="ConfigTree"/> notes every typed read), so the list cannot drift from the checks.
/// </summary>
public static class ModelKeys
{
    /// <summary>The keys of the model and training sections of <paramref name="name"/>'s defaults.</summary>
    public static IReadOnlyList<ModelKey> Of(string name)
    {
        var config = ModelRegistry.Defaults(name);
        var accepts = new Dictionary<string, string>(StringComparer.Ordinal);
        config.OnRead = (key, rule) => accepts[key] = rule;
        try
        {
            ModelRegistry.Get(name).Create(config).Dispose();
            // The input convention of a user's network (backbone: onnx), read only with one: its keys are every model's.
            if (config.Has("model.backbone_channel_order")) Backbones.OnnxInputConvention.FromConfig(config);
        }
        finally { config.OnRead = null; }
        var keys = new List<ModelKey>();
        foreach (string section in new[] { "model", "training" })
            if (config.Has(section)) Collect(config, section, accepts, keys);
        return keys;
    }

    static void Collect(ConfigTree config, string key, Dictionary<string, string> accepts, List<ModelKey> keys)
    {
        var children = config.ChildKeys(key);
        if (children.Count > 0)
        {
            foreach (string child in children) Collect(config, key + "." + child, accepts, keys);
            return;
        }
        string value;
        try { value = config.GetStringOrNull(key) ?? "null"; }
        catch (AnomalySharpException) { value = "[" + string.Join(", ", config.GetStringList(key)) + "]"; }
        keys.Add(new ModelKey(key, value, accepts.GetValueOrDefault(key, "")));
    }
}
