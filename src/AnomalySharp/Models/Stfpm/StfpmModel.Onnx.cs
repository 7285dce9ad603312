using AnomalySharp.Graphs;
using AnomalySharp.Runtime;

namespace AnomalySharp.Models.Stfpm;

internal sealed partial class StfpmModel
{
    /// <inheritdoc />
    /// <remarks>The image score is the maximum of the map (below).</remarks>
    public override bool ScoreIsMapMax => true;

    /// <inheritdoc />
    public override (string Maps, string Scores) AppendOnnx(OnnxGraph g, string images, int imageSize)
    {
        var teacher = AppendBackboneOnnx(g, images);
        string input = g.Node("Div", new[] { g.Node("Sub", new[] { images, g.Constant("stfpm_mean", _mean) }), g.Constant("stfpm_std",
            _std) });
        var student = _student.AppendOnnx(g, input, _depth);
        string? maps = null;
        for (int i = 0; i < Layers.Count; i++)
        {
            string d = g.Node("Sub", new[] { g.NormalizeChannels(teacher[i]), g.NormalizeChannels(student[_studentIndex[i]]) });
            string layer = g.Node("Mul", new[] { g.Node("ReduceSumSquare", new[] { d }, OnnxGraph.Attrs("axes", 1L),
                OnnxGraph.Attr("keepdims", 1L)), g.Scalar(0.5f) });
            string up = g.Resize(layer, imageSize, imageSize, bilinear: true);
            maps = maps == null ? up : g.Node("Mul", new[] { maps, up });
        }
        return (maps!, g.ReduceMax(maps!, 1, 2, 3));
    }
}
