namespace AnomalySharp.Tests.Architecture;

/// <summary>
/// The core's layers (issue 38, docs/architecture.md), checked on the compiled library: a namespace may use only the
/// ones its layer allows. So far: the output plumbing (IO) at the bottom, and models below tiling; the other cycles
/// (Models-Training, Engine-Export, Engine-Training, Engine-Tiling) are still to break.
/// </summary>
public class LayerTests
{
    static readonly Dictionary<(string From, string To), string> Edges = NamespaceDependencies.Of(typeof(AnomalySharpException).Assembly);

    [Fact]
    public void TheOutputPlumbingUsesNoOtherNamespaceOfTheLibrary()
    {
        var up = Edges.Where(e => e.Key.From == "IO" && e.Key.To != "").Select(e => $"IO -> {e.Key.To} ({e.Value})").ToList();
        Assert.True(up.Count == 0, string.Join("\n", up));
    }

    [Fact]
    public void ModelsKnowNothingOfTheTilingThatWrapsThem()
    {
        // Tiling wraps models (TiledModels.Create); a model, or the registry of models, never reaches up to it.
        Assert.False(Edges.TryGetValue(("Models", "Tiling"), out string? use), $"Models -> Tiling ({use})");
        Assert.Contains(("Tiling", "Models"), Edges.Keys);
    }

    [Fact]
    public void TheCheckSeesUsesInMethodBodiesClosuresAndSignatures()
    {
        // Known uses of each kind, so that an empty answer above cannot come from a blind scanner.
        Assert.Contains(("Engine", "IO"), Edges.Keys);          // AnomalyEngine news up a StagedOutput in a method body
        Assert.Contains(("Training", "IO"), Edges.Keys);        // Checkpoint registers its temporary file with PendingOutputs
        Assert.Contains(("Data", "Diagnostics"), Edges.Keys);   // Batcher hands its batches out through NativeCallGuard
        Assert.Contains(("Engine", "Metrics"), Edges.Keys);     // ResultsWriter.Write takes a CurveWalk
        Assert.DoesNotContain(Edges.Keys, e => e.From == e.To);
    }
}
