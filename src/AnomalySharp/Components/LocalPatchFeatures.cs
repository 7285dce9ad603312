using AnomalySharp.Graphs;
using AnomalySharp.Runtime;
using static TorchSharp.torch;

namespace AnomalySharp.Components;

/// <summary>
/// Locally aware patch features (PatchCore, CFA): each backbone layer 3×3 average-pooled (stride 1, zero padding
/// counted), brought to the first layer's grid bilinearly (align_corners=false), and concatenated over channels. One
/// TorchSharp form (fitting, training) and its ONNX twin (the inference graph), kept side by side.
/// </summary>
internal static class LocalPatchFeatures
{
    /// <summary>The patch features [N,ΣC,h,w] of layer outputs [N,C,·,·], shallow first; owned by the caller's scope.</summary>
    public static Tensor Of(IReadOnlyList<Tensor> features)
    {
        using var scope = NewDisposeScope();
        long h = features[0].shape[2], w = features[0].shape[3];
        var pooled = features.Select(f =>
        {
            var p = nn.functional.avg_pool2d(f, kernel_size: 3, stride: 1, padding: 1);
            return p.shape[2] == h && p.shape[3] == w ? p
                : nn.functional.interpolate(p, new long[] { h, w }, mode: InterpolationMode.Bilinear, align_corners: false);
        }).ToArray();
        return cat(pooled, 1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <see cref="Of"/> as ONNX nodes on the layer outputs <paramref name="features"/>: [N,ΣC,<paramref name="height"/>,<paramref
    /// name="width"/>]. A layer whose <paramref name="onFirstGrid"/> is true (its stride is the first layer's) is not resized.
    /// </summary>
    public static string AppendOnnx(OnnxGraph g, IReadOnlyList<string> features, IReadOnlyList<bool> onFirstGrid, long height, long width)
    {
        var pooled = features.Select((f, i) =>
        {
            string a = g.Node("AveragePool", new[] { f }, OnnxGraph.Attrs("kernel_shape", 3L, 3L), OnnxGraph.Attrs("strides", 1L, 1L),
                OnnxGraph.Attrs("pads", 1L, 1L, 1L, 1L), OnnxGraph.Attr("count_include_pad", 1L));
            return onFirstGrid[i] ? a : g.Resize(a, height, width, bilinear: true);
        }).ToArray();
        return pooled.Length == 1 ? pooled[0] : g.Node("Concat", pooled, OnnxGraph.Attr("axis", 1L));
    }
}
