using AnomalySharp.Graphs;
using AnomalySharp.Runtime;

namespace AnomalySharp.Models.FastFlow;

internal sealed partial class FastFlowModel
{
    /// <inheritdoc />
    /// <remarks>The image score is the maximum of the map (below).</remarks>
    public override bool ScoreIsMapMax => true;

    /// <inheritdoc />
    public override (string Maps, string Scores) AppendOnnx(OnnxGraph g, string images, int imageSize)
    {
        var features = AppendBackboneOnnx(g, images);
        string? sum = null;
        for (int l = 0; l < features.Length; l++)
        {
            string z = _network.AppendOnnx(g, l, features[l]);
            string meanSquare = g.Node("ReduceMean", new[] { g.Node("Mul", new[] { z, z }) }, OnnxGraph.Attrs("axes", 1L),
                OnnxGraph.Attr("keepdims", 1L));
            string probability = g.Node("Exp", new[] { g.Node("Mul", new[] { meanSquare, g.Scalar(-0.5f) }) });
            string up = g.Resize(g.Node("Neg", new[] { probability }), imageSize, imageSize, bilinear: true);
            sum = sum == null ? up : g.Node("Add", new[] { sum, up });
        }
        string maps = g.Node("Mul", new[] { sum!, g.Scalar(1f / features.Length) });
        return (maps, g.ReduceMax(maps, 1, 2, 3));
    }
}
