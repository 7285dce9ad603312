using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace AnomalySharp.Tuning;

/// <summary>
/// A search space read from YAML: one entry per config key, each one of
/// <c>{float: [low, high]}</c>, <c>{log_float: [low, high]}</c>, <c>{int: [low, high]}</c> or
/// <c>{choice: [a, b, ...]}</c> (choices may be lists: <c>{choice: [[layer2, layer3], [layer1, layer2, layer3]]}</c>).
/// </summary>
internal sealed class SearchSpace
{
    /// <summary>The dimensions, in file order.</summary>
    public IReadOnlyList<SearchParameter> Parameters { get; }

    /// <summary>Wraps parsed dimensions.</summary>
    public SearchSpace(IReadOnlyList<SearchParameter> parameters)
    {
        if (parameters.Count == 0) throw new AnomalySharpException("search space: no parameters");
        Parameters = parameters;
    }

    /// <summary>Reads a space file; every key must exist in <paramref name="defaults"/> (the model's configuration).</summary>
    public static SearchSpace Load(string path, Configuration.ConfigTree defaults)
    {
        string yaml = Runtime.BoundedFile.ReadAllText(path, Configuration.YamlLimits.MaxChars * 4L, (problem, m) =>
            new AnomalySharpException(problem == Runtime.BoundedFile.Problem.Missing ? $"{OptionText.Name("space")}: file not found: "
                + $"{path}" : $"{OptionText.Name("space")}: {m}"));
        return Parse(yaml, path, defaults);
    }

    /// <summary>Parses space YAML; <paramref name="source"/> names it in errors.</summary>
    public static SearchSpace Parse(string yaml, string source, Configuration.ConfigTree defaults)
    {
        Configuration.YamlLimits.Check(yaml, source);
        var stream = new YamlStream();
        try { stream.Load(new StringReader(yaml)); }
        catch (YamlDotNet.Core.YamlException e) { throw new AnomalySharpException($"{source}: not valid YAML ({e.Message})", e); }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new AnomalySharpException($"{source}: expected a mapping of config keys to ranges, e.g. model.n_features: {{int: "
                + $"[50, 200]}}");
        var result = new List<SearchParameter>();
        foreach (var (k, v) in root.Children)
        {
            string key = ((YamlScalarNode)k).Value ?? "";
            if (key == "model.name" || key == "seed") throw new AnomalySharpException($"{source}: '{key}' cannot be searched");
            if (!defaults.Has(key)) throw new AnomalySharpException($"{source}: unknown config key '{key}'");
            if (v is not YamlMappingNode spec || spec.Children.Count != 1)
                throw new AnomalySharpException($"{source}: '{key}' needs exactly one of float, log_float, int, choice");
            var (kindNode, argsNode) = spec.Children.Single();
            string kind = ((YamlScalarNode)kindNode).Value ?? "";
            if (argsNode is not YamlSequenceNode args || args.Children.Count == 0)
                throw new AnomalySharpException($"{source}: '{key}': {kind} needs a list");
            if (kind == "choice")
            {
                result.Add(new SearchParameter(key, ParameterKind.Choice, 0, 0, args.Children.Select(Flow).ToList()));
                continue;
            }
            var pk = kind switch
            {
                "float" => ParameterKind.Float,
                "log_float" => ParameterKind.LogFloat,
                "int" => ParameterKind.Int,
                _ => throw new AnomalySharpException($"{source}: '{key}': unknown kind '{kind}' (float, log_float, int, choice)"),
            };
            if (args.Children.Count != 2) throw new AnomalySharpException($"{source}: '{key}': {kind} needs [low, high]");
            double Num(YamlNode n) => n is YamlScalarNode s && double.TryParse(s.Value, NumberStyles.Float,
                CultureInfo.InvariantCulture, out double d)
                ? d : throw new AnomalySharpException($"{source}: '{key}': '{n}' is not a number");
            double low = Num(args.Children[0]), high = Num(args.Children[1]);
            if (!(low < high)) throw new AnomalySharpException($"{source}: '{key}': low must be below high");
            if (pk == ParameterKind.LogFloat && low <= 0) throw new AnomalySharpException($"{source}: '{key}': log_float needs a "
                + $"positive low");
            if (pk == ParameterKind.Int
                && (low != Math.Round(low) || high != Math.Round(high))) throw new AnomalySharpException($"{source}: '{key}': int "
                    + $"bounds must be integers");
            result.Add(new SearchParameter(key, pk, low, high, Array.Empty<string>()));
        }
        return new SearchSpace(result);
    }

    /// <summary>A YAML node as one-line flow YAML (the form `--set` reads).</summary>
    static string Flow(YamlNode node) => node switch
    {
        YamlScalarNode s => s.Value ?? "null",
        YamlSequenceNode q => "[" + string.Join(", ", q.Children.Select(Flow)) + "]",
        YamlMappingNode m => "{" + string.Join(", ", m.Children.Select(kv => Flow(kv.Key) + ": " + Flow(kv.Value))) + "}",
        _ => node.ToString(),
    };
}
