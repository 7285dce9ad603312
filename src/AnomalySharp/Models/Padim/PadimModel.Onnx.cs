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
    /// <remarks>
    /// Per patch position p: d = x − μₚ, distance = √(dᵀ Σₚ⁻¹ d), as one batched MatMul over positions [P,N,C]×[P,C,C].
    /// The file holds only the upper triangles of Σₚ⁻¹ [P,C(C+1)/2]; a Gather by a constant index unpacks them, which
    /// ONNX Runtime folds into a constant when the session is created, so scoring runs on the full matrices.
    /// </remarks>
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
        string delta = g.Node("Sub", new[] { embedding, g.Constant("padim_mean", _gaussian.Mean.unsqueeze(1)) });
        string packed = g.Constant("padim_inverse_covariance_upper", _gaussian.PackedInverseCovariance);
        // A [C,C] index gathers [P,C,C] straight away.
        string inverse = g.Node("Gather", new[] { packed, g.Constant("padim_unpack", MultivariateGaussian.UnpackIndex(_nFeatures),
            _nFeatures, _nFeatures) },
            OnnxGraph.Attr("axis", 1L));
        string left = g.Node("MatMul", new[] { delta, inverse });
        string squared = g.Node("ReduceSum", new[] { g.Node("Mul", new[] { left, delta }), g.Ints(2) }, OnnxGraph.Attr("keepdims", 0L));
        string distance = g.Node("Transpose", new[] { g.SafeSqrt(squared) }, OnnxGraph.Attrs("perm", 1L, 0L)); // [N,P]
        string patch = g.Node("Reshape", new[] { distance, g.Ints(0, 1, gh, gw) });
        string maps = _blur.AppendOnnx(g, g.Resize(patch, imageSize, imageSize, bilinear: true), imageSize, imageSize);
        return (maps, g.ReduceMax(maps, 1, 2, 3));
    }
}
