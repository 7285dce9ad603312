using AnomalySharp.Backbones;
using AnomalySharp.Components;
using AnomalySharp.Graphs;
using AnomalySharp.Runtime;
using static TorchSharp.torch;

namespace AnomalySharp.Models.Padim;

internal sealed partial class PadimModel
{
    /// <inheritdoc />
    /// <remarks>The image score is the maximum of the map (below).</remarks>
    public bool ScoreIsMapMax => true;

    /// <inheritdoc />
    /// <remarks>The patch score is the Mahalanobis distance under each position's Gaussian
    /// (<see cref="MultivariateGaussian.AppendOnnxDistance"/>).</remarks>
    public (string Maps, string Scores) AppendOnnx(OnnxGraph g, string images, int imageSize)
    {
        if (_gaussian.Mean is null || _gaussian.PackedInverseCovariance is null) throw new InvalidOperationException("padim is not fitted");
        using var scope = NewDisposeScope();
        if (_backbone is not IOnnxBackbone exportable) throw new AnomalySharpException($"backbone {_backbone.Name} cannot be exported "
            + $"to ONNX");
        long gh, gw;
        using (var blank = zeros(1, 3, imageSize, imageSize))
        using (Embed(blank, out gh, out gw)) { }
        var features = exportable.AppendOnnx(g, images, _layers);
        var parts = new List<string>();
        for (int l = 0; l < _layers.Count; l++)
        {
            if (_perLayer[l] is not { } local) continue;
            string chosen = g.Node("Gather", new[] { features[l], g.Constant("padim_channels", local.data<long>().ToArray(),
                local.shape[0]) },
                OnnxGraph.Attr("axis", 1L));
            parts.Add(_backbone.Stride(_layers[l]) == _backbone.Stride(_layers[0]) ? chosen : g.Resize(chosen, gh, gw, bilinear: false));
        }
        string embedding = g.Node("Concat", parts.ToArray(), OnnxGraph.Attr("axis", 1L));
        long p = gh * gw;
        embedding = g.Node("Reshape", new[] { embedding, g.Ints(0, _nFeatures, p) });
        embedding = g.Node("Transpose", new[] { embedding }, OnnxGraph.Attrs("perm", 2L, 0L, 1L));             // [P,N,C]
        string distance = _gaussian.AppendOnnxDistance(g, embedding, "padim");                                       // [N,P]
        string patch = g.Node("Reshape", new[] { distance, g.Ints(0, 1, gh, gw) });
        string maps = _blur.AppendOnnx(g, g.Resize(patch, imageSize, imageSize, bilinear: true), imageSize, imageSize);
        return (maps, g.ReduceMax(maps, 1, 2, 3));
    }
}
