using AnomalySharp.Backbones;
using AnomalySharp.Graphs;
using AnomalySharp.Runtime;
using static TorchSharp.torch;

namespace AnomalySharp.Models.Dfm;

/// <summary>DFM's one inference graph: pooled features, their PCA reconstruction error (and the NLL of the coordinates).</summary>
internal sealed partial class DfmModel
{
    /// <inheritdoc />
    public (string Maps, string Scores) AppendOnnx(OnnxGraph g, string images, int imageSize)
    {
        if (_pca is null || _gaussian.Mean is null
            || _gaussian.PackedInverseCovariance is null) throw new InvalidOperationException("dfm is not fitted");
        if (_backbone is not IOnnxBackbone exportable) throw new AnomalySharpException($"backbone {_backbone.Name} "
            + $"cannot be exported to ONNX");
        using var scope = NewDisposeScope();
        long c, h, w;
        using (var blank = zeros(1, 3, imageSize, imageSize))
        using (var probe = Features(blank)) { c = probe.shape[1]; h = probe.shape[2]; w = probe.shape[3]; }
        string f = exportable.AppendOnnx(g, images, new[] { _layer })[0];
        if (_pool > 1)
            f = g.Node("AveragePool", new[] { f }, OnnxGraph.Attrs("kernel_shape", _pool, _pool), OnnxGraph.Attrs("strides", _pool, _pool));
        string rows = g.Node("Reshape", new[] { f, g.Ints(0, c * h * w) });                                          // [N,C·h·w]
        string mean = g.Constant("pca_mean", _pca.Mean);
        string components = g.Constant("pca_components", _pca.Components);                                              // [k,C·h·w]
        string coordinates = g.Node("MatMul", new[] { g.Node("Sub", new[] { rows, mean }), g.Node("Transpose", new[] { components },
            OnnxGraph.Attrs("perm", 1, 0)) });
        string reconstruction = g.Node("Add", new[] { g.Node("MatMul", new[] { coordinates, components }), mean });
        string diff = g.Node("Sub", new[] { rows, reconstruction });
        string error = g.Node("Reshape", new[] { g.Node("Mul", new[] { diff, diff }), g.Ints(0, c, h, w) });          // [N,C,h,w]
        string scores;
        if (_scoreType == "fre")
            scores = g.Node("ReduceSum", new[] { g.Node("Reshape", new[] { error, g.Ints(0, -1) }), g.Ints(1) },
                OnnxGraph.Attr("keepdims", 0L));
        else
        {
            // 0.5 · squared Mahalanobis distance of the PCA coordinates under the one Gaussian fitted on them.
            string delta = g.Node("Sub", new[] { coordinates, g.Constant("gaussian_mean", _gaussian.Mean.squeeze(0)) });
            string left = g.Node("MatMul", new[] { delta, g.Constant("gaussian_inverse_covariance",
                _gaussian.UnpackInverseCovariance().squeeze(0)) });
            string squared = g.Node("ReduceSum", new[] { g.Node("Mul", new[] { left, delta }), g.Ints(1) }, OnnxGraph.Attr("keepdims", 0L));
            scores = g.Node("Mul", new[] { g.Node("Max", new[] { squared, g.Scalar(0f) }), g.Scalar(0.5f) });
        }
        string map = g.Node("ReduceSum", new[] { error, g.Ints(1) }, OnnxGraph.Attr("keepdims", 1L));
        string maps = _blur.AppendOnnx(g, g.Resize(map, imageSize, imageSize, bilinear: true), imageSize, imageSize);
        return (maps, scores);
    }
}
