using AnomalySharp.Graphs;
using AnomalySharp.Runtime;

namespace AnomalySharp.Models.Fre;

/// <summary>FRE's one inference graph: pooled features, their reconstruction error per position and its sum.</summary>
internal sealed partial class FreModel
{
    /// <inheritdoc />
    public override (string Maps, string Scores) AppendOnnx(OnnxGraph g, string images, int imageSize)
    {
        if (imageSize != ImageSize) throw new ArgumentException($"fre was built for {ImageSize} px images, not {imageSize}",
            nameof(imageSize));
        string f = AppendBackboneOnnx(g, images)[0];
        if (_pool > 1)
            f = g.Node("AveragePool", new[] { f }, OnnxGraph.Attrs("kernel_shape", _pool, _pool), OnnxGraph.Attrs("strides", _pool, _pool));
        string rows = g.Node("Reshape", new[] { f, g.Ints(0, -1) });                                                      // [N,C·h·w]
        string diff = g.Node("Sub", new[] { rows, _autoencoder.AppendOnnx(g, rows) });
        string error = g.Node("Reshape", new[] { g.Node("Mul", new[] { diff, diff }), g.Ints(0, _shape[0], _shape[1], _shape[2]) });
        string map = g.Node("ReduceSum", new[] { error, g.Ints(1) }, OnnxGraph.Attr("keepdims", 1L));                   // [N,1,h,w]
        string scores = g.Node("ReduceSum", new[] { g.Node("Reshape", new[] { map, g.Ints(0, -1) }), g.Ints(1) },
            OnnxGraph.Attr("keepdims", 0L));
        string maps = _blur.AppendOnnx(g, g.Resize(map, imageSize, imageSize, bilinear: true), imageSize, imageSize);
        return (maps, scores);
    }
}
