using AnomalySharp.Backbones;
using AnomalySharp.Graphs;
using AnomalySharp.Runtime;
using static TorchSharp.torch;

namespace AnomalySharp.Samples.CustomModel;

/// <summary>The model's ONNX export: the same computation as its fit's embedding and the Mahalanobis distance per position,
/// written with the shared graph builder.</summary>
public sealed partial class SemiOrthogonalModel
{
    /// <inheritdoc />
    /// <remarks>The image score is the maximum of the map, as PaDiM's.</remarks>
    public bool ScoreIsMapMax => true;

    /// <inheritdoc />
    public (string Maps, string Scores) AppendOnnx(OnnxGraph g, string images, int imageSize)
    {
        if (_gaussian.Mean is null || _gaussian.PackedInverseCovariance is null)
            throw new InvalidOperationException("semi_orthogonal is not fitted");
        if (_backbone is not IOnnxBackbone exportable) throw new AnomalySharpException($"backbone {_backbone.Name} cannot be "
            + "exported to ONNX");
        using var scope = NewDisposeScope();
        long gh, gw;
        using (var blank = zeros(1, 3, imageSize, imageSize))
        using (Embed(blank, out gh, out gw)) { }
        var features = exportable.AppendOnnx(g, images, _layers);
        var parts = _layers.Select((layer, l) => _backbone.Stride(layer) == _backbone.Stride(_layers[0]) ? features[l]
            : g.Resize(features[l], gh, gw, bilinear: false)).ToArray();
        long channels = _projection.shape[0], p = gh * gw;
        string all = g.Node("Reshape", new[] { g.Node("Concat", parts, OnnxGraph.Attr("axis", 1L)), g.Ints(0, channels, p) });
        string embedding = g.Node("MatMul", new[] { g.Constant("projection_t", _projection.t().contiguous()), all }); // [N,k,P]
        embedding = g.Node("Transpose", new[] { embedding }, OnnxGraph.Attrs("perm", 2L, 0L, 1L));                  // [P,N,k]
        string distance = _gaussian.AppendOnnxDistance(g, embedding, "gaussian");                                   // [N,P]
        string patch = g.Node("Reshape", new[] { distance, g.Ints(0, 1, gh, gw) });
        string maps = _blur.AppendOnnx(g, g.Resize(patch, imageSize, imageSize, bilinear: true), imageSize, imageSize);
        return (maps, g.ReduceMax(maps, 1, 2, 3));
    }
}
