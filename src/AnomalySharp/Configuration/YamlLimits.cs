using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace AnomalySharp.Configuration;

/// <summary>
/// Bounds a YAML text before it is built into nodes: its size, its nesting and the number of nodes it stands for once
/// every alias is expanded. YAML's aliases let 540 bytes stand for billions of nodes (nine levels of nine aliases),
/// and a node tree is built recursively, so 100,000 nested brackets overflow the stack; both are refused here, in one
/// pass over the parser's events, with a line that names the source.
/// </summary>
internal static class YamlLimits
{
    /// <summary>Deepest nesting of mappings and lists (a configuration needs 4).</summary>
    public const int MaxDepth = 32;
    /// <summary>Most nodes once aliases are expanded (a configuration has about 200).</summary>
    public const long MaxNodes = 100_000;
    /// <summary>Largest text, in characters.</summary>
    public const int MaxChars = 1 << 20;

    /// <summary>Throws <see cref="AnomalySharpException"/> when <paramref name="yaml"/> is over a limit or is not YAML.</summary>
    public static void Check(string yaml, string source)
    {
        if (yaml.Length > MaxChars) throw new AnomalySharpException($"{source}: {yaml.Length} characters, over the limit of "
            + $"{MaxChars} for a YAML file");
        var anchors = new Dictionary<string, long>(StringComparer.Ordinal);
        var open = new Stack<(string? Anchor, long Nodes)>();
        var parser = new Parser(new StringReader(yaml));
        try
        {
            while (parser.MoveNext())
            {
                switch (parser.Current)
                {
                    case MappingStart or SequenceStart:
                        if (open.Count >= MaxDepth)
                            throw new AnomalySharpException($"{source}: nested deeper than {MaxDepth} levels at line "
                                + $"{parser.Current!.Start.Line}");
                        var anchor = ((NodeEvent)parser.Current!).Anchor;
                        open.Push((anchor.IsEmpty ? null : anchor.Value, 1));
                        break;
                    case MappingEnd or SequenceEnd:
                        var (name, nodes) = open.Pop();
                        Add(nodes, name);
                        break;
                    case Scalar scalar:
                        Add(1, scalar.Anchor.IsEmpty ? null : scalar.Anchor.Value);
                        break;
                    case AnchorAlias alias:
                        if (!anchors.TryGetValue(alias.Value.Value, out long size))
                            throw new AnomalySharpException($"{source}: alias *{alias.Value.Value} at line {alias.Start.Line} names "
                                + $"no anchor before it");
                        Add(size, null);
                        break;
                }
            }
        }
        catch (YamlException e)
        {
            throw new AnomalySharpException($"{source}: invalid YAML at line {e.Start.Line}: {e.Message}");
        }

        void Add(long nodes, string? anchor)
        {
            if (anchor != null) anchors[anchor] = nodes;
            if (open.Count > 0)
            {
                var (name, count) = open.Pop();
                open.Push((name, count + nodes));
                nodes = count + nodes;
            }
            if (nodes > MaxNodes)
                throw new AnomalySharpException($"{source}: stands for more than {MaxNodes:N0} values once its aliases (*name) are "
                    + $"expanded; refused");
        }
    }
}
