using AnomalySharp.Graphs;
using AnomalySharp.Runtime;

namespace AnomalySharp.Components;

/// <summary>The Gaussians' distance as ONNX nodes (PaDiM's scoring, and any model's that keeps a Gaussian per position).</summary>
public sealed partial class MultivariateGaussian
{
    /// <summary>
    /// Appends the Mahalanobis distance of each position's embedding under that position's Gaussian: <paramref name="embedding"/>
    /// [P,N,D] in, [N,P] out. Per position p: d = x − μₚ, distance = √(dᵀ Σₚ⁻¹ d), as one batched MatMul over positions
    /// [P,N,D]×[P,D,D]. The graph holds only the upper triangles of Σₚ⁻¹ [P,D(D+1)/2]; a Gather by a constant [D,D] index
    /// unpacks them, which ONNX Runtime folds into a constant when the session is created, so scoring runs on the full
    /// matrices. The constants are named <paramref name="prefix"/>_mean, _inverse_covariance_upper and _unpack.
    /// </summary>
    public string AppendOnnxDistance(OnnxGraph g, string embedding, string prefix)
    {
        if (Mean is null || PackedInverseCovariance is null) throw new InvalidOperationException("the Gaussian is not fitted");
        long d = Mean.shape[^1];
        string delta;
        using (var mean = Mean.unsqueeze(1)) delta = g.Node("Sub", new[] { embedding, g.Constant(prefix + "_mean", mean) });
        string inverse = g.Node("Gather", new[] { g.Constant(prefix + "_inverse_covariance_upper", PackedInverseCovariance),
            g.Constant(prefix + "_unpack", UnpackIndex(d), d, d) }, OnnxGraph.Attr("axis", 1L));
        string left = g.Node("MatMul", new[] { delta, inverse });
        string squared = g.Node("ReduceSum", new[] { g.Node("Mul", new[] { left, delta }), g.Ints(2) }, OnnxGraph.Attr("keepdims", 0L));
        return g.Node("Transpose", new[] { g.SafeSqrt(squared) }, OnnxGraph.Attrs("perm", 1L, 0L));
    }
}
