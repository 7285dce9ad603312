using AnomalySharp.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AnomalySharp.Graphs;

/// <summary>
/// Trained TorchSharp layers as ONNX nodes, in evaluation mode: batch normalization is folded into the convolution
/// before it (its running statistics are constants after training).
/// </summary>
public static class OnnxLayers
{
    /// <summary>A 2-d convolution (weight [O,I,k,k], optional bias) followed by batch normalization, as one Conv.</summary>
    public static string ConvBn(this OnnxGraph g, string x, Conv2d conv, BatchNorm2d bn)
    {
        long stride = conv.stride[0], padding = conv.padding?[0] ?? 0;
        using var scope = NewDisposeScope();
        var (scale, shift) = Fold(bn);
        var w = conv.weight!.detach() * scale.view(-1, 1, 1, 1);
        var b = conv.bias is { } cb ? cb.detach() * scale + shift : shift;
        long k = w.shape[2];
        return g.Node("Conv", new[] { x, g.Constant("conv_w", w), g.Constant("conv_b", b) },
            OnnxGraph.Attrs("kernel_shape", k, k), OnnxGraph.Attrs("strides", stride, stride), OnnxGraph.Attrs("pads", padding, padding,
                padding, padding));
    }

    /// <summary>A 2-d transposed convolution (weight [I,O,k,k]) followed by batch normalization, as one ConvTranspose.</summary>
    public static string ConvTransposeBn(this OnnxGraph g, string x, ConvTranspose2d conv, BatchNorm2d bn)
    {
        long stride = conv.stride[0];
        using var scope = NewDisposeScope();
        var (scale, shift) = Fold(bn);
        var w = conv.weight!.detach() * scale.view(1, -1, 1, 1);
        var b = conv.bias is { } cb ? cb.detach() * scale + shift : shift;
        long k = w.shape[2];
        return g.Node("ConvTranspose", new[] { x, g.Constant("deconv_w", w), g.Constant("deconv_b", b) },
            OnnxGraph.Attrs("kernel_shape", k, k), OnnxGraph.Attrs("strides", stride, stride));
    }

    /// <summary>A plain 2-d convolution with "same" padding for odd kernels.</summary>
    public static string Conv(this OnnxGraph g, string x, Conv2d conv)
    {
        long k = conv.weight!.shape[2], pad = k / 2;
        var inputs = conv.bias is { } b
            ? new[] { x, g.Constant("conv_w", conv.weight.detach()), g.Constant("conv_b", b.detach()) }
            : new[] { x, g.Constant("conv_w", conv.weight.detach()) };
        return g.Node("Conv", inputs, OnnxGraph.Attrs("kernel_shape", k, k), OnnxGraph.Attrs("pads", pad, pad, pad, pad));
    }

    /// <summary>Per-channel (scale, shift) of a batch normalization in evaluation mode.</summary>
    static (Tensor Scale, Tensor Shift) Fold(BatchNorm2d bn)
    {
        var scale = bn.weight!.detach() / (bn.running_var!.detach() + bn.eps).sqrt();
        var shift = bn.bias!.detach() - bn.running_mean!.detach() * scale;
        return (scale, shift);
    }

    /// <summary>x / max(‖x‖₂ over channels, 1e-12): torch's normalize(x, dim=1).</summary>
    public static string NormalizeChannels(this OnnxGraph g, string x) => g.Node("Div", new[] { x, ChannelNorm(g, x, 1e-12f) });

    /// <summary>1 − cosine similarity over channels, [N,1,H,W]: torch's cosine_similarity(a, b, dim=1) with eps 1e-8.</summary>
    public static string OneMinusCosine(this OnnxGraph g, string a, string b)
    {
        string dot = g.Node("ReduceSum", new[] { g.Node("Mul", new[] { a, b }), g.Ints(1) }, OnnxGraph.Attr("keepdims", 1L));
        string cos = g.Node("Div", new[] { dot, g.Node("Mul", new[] { ChannelNorm(g, a, 1e-8f), ChannelNorm(g, b, 1e-8f) }) });
        return g.Node("Sub", new[] { g.Scalar(1f), cos });
    }

    /// <summary>max(‖x‖₂ over channels, <paramref name="eps"/>), [N,1,H,W].</summary>
    static string ChannelNorm(OnnxGraph g, string x, float eps) =>
        g.Node("Max", new[] { g.Node("ReduceL2", new[] { x }, OnnxGraph.Attrs("axes", 1L), OnnxGraph.Attr("keepdims", 1L)),
            g.Scalar(eps) });
}
