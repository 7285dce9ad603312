using AnomalySharp.Graphs;
using AnomalySharp.Runtime;

namespace AnomalySharp.Models.ReverseDistillation;

internal sealed partial class ReverseDistillationModel
{
    /// <inheritdoc />
    /// <remarks>The image score is the maximum of the map (below).</remarks>
    public override bool ScoreIsMapMax => true;

    /// <inheritdoc />
    public override (string Maps, string Scores) AppendOnnx(OnnxGraph g, string images, int imageSize)
    {
        var encoder = AppendBackboneOnnx(g, images);
        var decoder = _network.AppendOnnx(g, encoder);
        string? sum = null;
        for (int i = 0; i < decoder.Length; i++)
        {
            string up = g.Resize(g.OneMinusCosine(encoder[i], decoder[i]), imageSize, imageSize, bilinear: true);
            sum = sum == null ? up : g.Node("Add", new[] { sum, up });
        }
        string maps = _blur.AppendOnnx(g, sum!, imageSize, imageSize);
        return (maps, g.ReduceMax(maps, 1, 2, 3));
    }
}
