using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using YamlDotNet.RepresentationModel;

namespace AnomalySharp.Configuration;

/// <summary>
/// A configuration: nested maps of keys to scalars (kept as strings) and lists. Keys are addressed by dotted
/// paths ("model.n_features"). Every tree starts from a model's defaults; a YAML file or a <c>--set</c> override
/// may only change keys that exist there, so a typo is an error that names the key.
/// </summary>
public sealed class ConfigTree
{
    readonly Dictionary<string, object?> _root;

    ConfigTree(Dictionary<string, object?> root) { _root = root; }

    /// <summary>
    /// Called with every key a typed getter reads and what it accepts ("integer 1 .. 64", "one of fre, nll"): how
    /// `Models.ModelKeys` learns each model's ranges from the checks themselves.
    /// </summary>
    internal Action<string, string>? OnRead { get; set; }

    internal void Note(string key, string accepts) => OnRead?.Invoke(key, accepts);

    static string Range(string kind, double min, double max, bool isInt)
    {
        string F(double v) => isInt ? ((long)v).ToString(CultureInfo.InvariantCulture) : v.ToString("G6", CultureInfo.InvariantCulture);
        bool low = isInt ? min > int.MinValue : !double.IsNegativeInfinity(min);
        bool high = isInt ? max < int.MaxValue : !double.IsPositiveInfinity(max);
        return low && high ? $"{kind} {F(min)} .. {F(max)}" : low ? $"{kind} >= {F(min)}" : high ? $"{kind} <= {F(max)}" : kind;
    }

    /// <summary>Parses YAML text (a mapping at the top).</summary>
    public static ConfigTree FromYaml(string yaml, string source)
    {
        YamlLimits.Check(yaml, source);
        var stream = new YamlStream();
        try { stream.Load(new StringReader(yaml)); }
        catch (YamlDotNet.Core.YamlException e)
        { throw new AnomalySharpException($"{source}: invalid YAML at line {e.Start.Line}: {e.Message}"); }
        if (stream.Documents.Count == 0) return new ConfigTree(new Dictionary<string, object?>());
        if (stream.Documents[0].RootNode is not YamlMappingNode map)
            throw new AnomalySharpException($"{source}: the top level must be a mapping of keys");
        return new ConfigTree((Dictionary<string, object?>)Convert(map, source, "")!);
    }

    /// <summary>Reads a YAML file.</summary>
    public static ConfigTree FromFile(string path)
    {
        string yaml = Runtime.BoundedFile.ReadAllText(path, YamlLimits.MaxChars * 4L, (problem, m) =>
            new AnomalySharpException(problem == Runtime.BoundedFile.Problem.Missing
                ? $"config file not found: {path}" : $"config file {m}"));
        return FromYaml(yaml, path);
    }

    static object? Convert(YamlNode node, string source, string path) => node switch
    {
        YamlMappingNode m => m.Children.ToDictionary(
            kv => kv.Key is YamlScalarNode k ? k.Value ?? "" : throw new AnomalySharpException(
                $"{source}: key at {path} is not a plain name"),
            kv => Convert(kv.Value, source, Join(path, ((YamlScalarNode)kv.Key).Value ?? ""))),
        YamlSequenceNode s => s.Children.Select((c, i) => Convert(c, source, $"{path}[{i}]")).ToList(),
        YamlScalarNode sc => sc.Value is null or "~" or "null" && sc.Style == YamlDotNet.Core.ScalarStyle.Plain ? null : sc.Value,
        _ => throw new AnomalySharpException($"{source}: unsupported YAML node at {path}"),
    };

    static string Join(string a, string b) => a.Length == 0 ? b : a + "." + b;

    /// <summary>A deep copy.</summary>
    public ConfigTree Clone() => FromJson(ToJson());

    /// <summary>
    /// Overlays <paramref name="overrides"/> onto this tree. Every key in the overlay must exist here; lists and
    /// scalars are replaced whole.
    /// </summary>
    public void Merge(ConfigTree overrides, string source) => MergeInto(_root, overrides._root, "", source);

    static void MergeInto(Dictionary<string, object?> target, Dictionary<string, object?> overlay, string path, string source)
    {
        foreach (var (key, value) in overlay)
        {
            string full = Join(path, key);
            if (!target.TryGetValue(key, out var existing))
                throw new AnomalySharpException($"{source}: unknown config key '{full}' (known here: "
                    + $"{string.Join(", ", target.Keys.Select(k => Join(path, k)))})");
            if (existing is Dictionary<string, object?> sub)
            {
                if (value is not Dictionary<string, object?> subOverlay)
                    throw new AnomalySharpException($"{source}: config key '{full}' is a section; give its keys, not a value");
                MergeInto(sub, subOverlay, full, source);
            }
            else if (value is Dictionary<string, object?>)
                throw new AnomalySharpException($"{source}: config key '{full}' takes a value, not a section");
            else
                target[key] = value;
        }
    }

    /// <summary>Applies one <c>KEY=VALUE</c> override; VALUE is read as YAML (so lists like [a,b] work).</summary>
    public void Set(string assignment)
    {
        int eq = assignment.IndexOf('=');
        if (eq <= 0) throw new AnomalySharpException($"{OptionText.Name("set")} '{assignment}': expected KEY=VALUE, e.g. "
            + $"model.n_features=50");
        string key = assignment[..eq].Trim(), raw = assignment[(eq + 1)..].Trim();
        var parts = key.Split('.');
        var node = _root;
        for (int i = 0; i < parts.Length - 1; i++)
        {
            if (!node.TryGetValue(parts[i], out var child) || child is not Dictionary<string, object?> sub)
                throw new AnomalySharpException($"{OptionText.Name("set")}: unknown config key '{key}'");
            node = sub;
        }
        if (!node.TryGetValue(parts[^1], out var existing))
            throw new AnomalySharpException($"{OptionText.Name("set")}: unknown config key '{key}' (known here: "
                + $"{string.Join(", ", node.Keys)})");
        if (existing is Dictionary<string,
            object?>) throw new AnomalySharpException($"{OptionText.Name("set")}: '{key}' is a section, not a value");
        var parsed = FromYaml($"v: {raw}", $"{OptionText.Name("set")} {key}");
        node[parts[^1]] = parsed._root["v"];
    }

    object? Find(string key)
    {
        object? node = _root;
        foreach (string part in key.Split('.'))
        {
            if (node is not Dictionary<string, object?> map || !map.TryGetValue(part, out node))
                throw new AnomalySharpException($"config key '{key}' is missing");
        }
        return node;
    }

    /// <summary>The keys at the top of the tree.</summary>
    public IReadOnlyList<string> TopLevelKeys() => _root.Keys.ToList();

    /// <summary>The keys directly under a mapping key (empty when it is not a mapping).</summary>
    public IReadOnlyList<string> ChildKeys(string key) => Find(key) is Dictionary<string,
        object?> map ? map.Keys.ToList() : Array.Empty<string>();

    /// <summary>True when the key exists.</summary>
    public bool Has(string key)
    {
        try { Find(key); return true; } catch (AnomalySharpException) { return false; }
    }

    /// <summary>A string value (null allowed).</summary>
    public string? GetStringOrNull(string key) => Find(key) switch
    {
        null => null,
        string s => s,
        _ => throw new AnomalySharpException($"config key '{key}': expected a single value, got a list or section"),
    };

    /// <summary>A required string value.</summary>
    public string GetString(string key) => GetStringOrNull(key) ?? throw new AnomalySharpException($"config key '{key}' must not be empty");

    /// <summary>An integer value.</summary>
    public int GetInt(string key, int min = int.MinValue, int max = int.MaxValue)
    {
        string s = GetString(key);
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v))
            throw new AnomalySharpException($"config key '{key}': expected an integer, got '{s}'");
        Note(key, Range("integer", min, max, isInt: true));
        if (v < min || v > max) throw new AnomalySharpException($"config key '{key}': {v} is out of range [{min}, {max}]");
        return v;
    }

    /// <summary>A floating-point value, or null.</summary>
    public double? GetDoubleOrNull(string key, double min = double.NegativeInfinity, double max = double.PositiveInfinity)
    {
        string? s = GetStringOrNull(key);
        Note(key, Range("number", min, max, isInt: false) + " or null");
        if (s == null) return null;
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
            throw new AnomalySharpException($"config key '{key}': expected a number, got '{s}'");
        if (v < min || v > max) throw new AnomalySharpException($"config key '{key}': {v} is out of range [{min}, {max}]");
        return v;
    }

    /// <summary>A required floating-point value.</summary>
    public double GetDouble(string key, double min = double.NegativeInfinity, double max = double.PositiveInfinity)
    {
        double v = GetDoubleOrNull(key, min, max) ?? throw new AnomalySharpException($"config key '{key}' must not be empty");
        Note(key, Range("number", min, max, isInt: false));
        return v;
    }

    /// <summary>A boolean value (true/false/yes/no).</summary>
    public bool GetBool(string key)
    {
        Note(key, "true or false");
        return ParseBool(key, GetString(key));
    }

    static bool ParseBool(string key, string value) => value.ToLowerInvariant() switch
    {
        "true" or "yes" or "on" => true,
        "false" or "no" or "off" => false,
        var s => throw new AnomalySharpException($"config key '{key}': expected true or false, got '{s}'"),
    };

    /// <summary>A value that must be one of <paramref name="choices"/>.</summary>
    public string GetChoice(string key, params string[] choices)
    {
        Note(key, "one of " + string.Join(", ", choices));
        string s = GetString(key);
        if (!choices.Contains(s)) throw new AnomalySharpException($"config key '{key}': '{s}' is not one of {string.Join(", ", choices)}");
        return s;
    }

    /// <summary>A list of strings.</summary>
    public IReadOnlyList<string> GetStringList(string key) => Find(key) switch
    {
        List<object?> l => l.Select(o => o as string ?? throw new AnomalySharpException($"config key '{key}': list items must be "
            + $"plain values")).ToList(),
        string s => new[] { s },
        _ => throw new AnomalySharpException($"config key '{key}': expected a list"),
    };

    /// <summary>Serializes the tree as JSON (used inside model files).</summary>
    public string ToJson() => ToNode(_root)!.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    /// <summary>Serializes the tree as YAML (the form <c>train --config</c> reads).</summary>
    public string ToYaml()
    {
        var sb = new System.Text.StringBuilder();
        WriteYaml(sb, _root, 0);
        return sb.ToString();
    }

    static void WriteYaml(System.Text.StringBuilder sb, Dictionary<string, object?> map, int indent)
    {
        foreach (var (k, v) in map)
        {
            sb.Append(' ', indent).Append(k).Append(':');
            switch (v)
            {
                case Dictionary<string, object?> sub: sb.Append('\n'); WriteYaml(sb, sub, indent + 2); break;
                case List<object?> list:
                    sb.Append(" [").Append(string.Join(", ",
                    list.Select(o => Scalar(o as string)))).Append("]\n"); break;
                default: sb.Append(' ').Append(Scalar(v as string)).Append('\n'); break;
            }
        }
    }

    static string Scalar(string? s)
        => s == null ? "null" : s.Length == 0 || s.IndexOfAny(":#[]{},'\"".ToCharArray()) >= 0 ? JsonSerializer.Serialize(s) : s;

    static JsonNode? ToNode(object? o) => o switch
    {
        null => null,
        string s => JsonValue.Create(s),
        List<object?> l => new JsonArray(l.Select(ToNode).ToArray()),
        Dictionary<string, object?> d => new JsonObject(d.Select(kv => KeyValuePair.Create(kv.Key, ToNode(kv.Value)))),
        _ => throw new InvalidOperationException(),
    };

    /// <summary>Reads a tree written by <see cref="ToJson"/>.</summary>
    public static ConfigTree FromJson(string json) => new((Dictionary<string, object?>)FromNode(JsonNode.Parse(json))!);

    static object? FromNode(JsonNode? n) => n switch
    {
        null => null,
        JsonObject o => o.ToDictionary(kv => kv.Key, kv => FromNode(kv.Value)),
        JsonArray a => a.Select(FromNode).ToList(),
        JsonValue v => v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : v.ToJsonString(),
        _ => throw new InvalidOperationException(),
    };
}
