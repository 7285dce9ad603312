namespace AnomalySharp.Tests.Architecture;

/// <summary>
/// The core's layers (issue 38, docs/architecture.md), checked on the compiled library: every use of one namespace by
/// another points down. The scanner reads base types, fields, signatures and every token in the method bodies, so a
/// use anywhere in the code counts.
/// </summary>
public class LayerTests
{
    static readonly Dictionary<(string From, string To), string> Edges = NamespaceDependencies.Of(typeof(AnomalySharpException).Assembly);

    /// <summary>Bottom first. A namespace may use those of lower layers only, never its own layer's others or higher ones.</summary>
    static readonly string[][] Layers =
    {
        new[] { "" },                                                           // AnomalySharpException, OptionText
        // staged outputs; progress, memory; config; ONNX graph building
        new[] { "IO", "Diagnostics", "Configuration", "Graphs" },
        new[] { "Components" },                                                 // tensor building blocks
        new[] { "Data", "Metrics" },
        new[] { "Visualization", "PostProcessing", "Backbones", "Training" },   // Training: the loop, for any ITrainableModel
        new[] { "Models" },                                                     // each model's fit and graph; NetworkModel
        new[] { "Inference" },                                                  // the one inference path
        new[] { "Tiling" },
        new[] { "Packaging" },                                                  // model files, TrainedModel
        new[] { "Export" },
        new[] { "Engine" },
        new[] { "Benchmarking", "Tuning" },
    };

    static int LayerOf(string ns) => Array.FindIndex(Layers, l => l.Contains(ns));

    [Fact]
    public void EveryUseOfANamespacePointsToALowerLayer()
    {
        var wrong = new List<string>();
        foreach (var ((from, to), example) in Edges)
        {
            if (to.StartsWith("System.", StringComparison.Ordinal)) continue; // generated code (regular expressions)
            int a = LayerOf(from), b = LayerOf(to);
            if (a < 0 || b < 0) wrong.Add($"{(a < 0 ? from : to)} is in no layer: add it to {nameof(LayerTests)}.{nameof(Layers)} and "
                + $"docs/architecture.md");
            else if (b >= a) wrong.Add($"{from} -> {to} points {(b == a ? "sideways" : "up")} ({example})");
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong.Distinct()));
    }

    [Fact]
    public void TheCheckSeesUsesInMethodBodiesClosuresAndSignatures()
    {
        // Known uses of each kind, so that an empty answer above cannot come from a blind scanner.
        Assert.Contains(("Engine", "IO"), Edges.Keys);          // AnomalyEngine news up a StagedOutput in a method body
        Assert.Contains(("Training", "IO"), Edges.Keys);        // Checkpoint registers its temporary file with PendingOutputs
        Assert.Contains(("Data", "Diagnostics"), Edges.Keys);   // Batcher hands its batches out through NativeCallGuard
        Assert.Contains(("Engine", "Metrics"), Edges.Keys);     // ResultsWriter.Write takes a CurveWalk
        Assert.Contains(("Models", "Training"), Edges.Keys);    // NetworkModel fits through Trainer.Run
        Assert.Contains(("Tiling", "Inference"), Edges.Keys);   // TiledEnsembleModel runs each member's InferenceGraph
        Assert.DoesNotContain(Edges.Keys, e => e.From == e.To);
        Assert.True(Edges.Keys.Select(e => e.From).Distinct().Count() >= 14, "the scanner found too few namespaces");
    }
}
