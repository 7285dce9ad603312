using AnomalySharp.Graphs;
using AnomalySharp.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AnomalySharp.Components;

/// <summary>
/// ResNet's basic block with batch normalization: two 3×3 convolutions and a shortcut (1×1 convolution when the
/// shape changes). With <c>upsample</c> it is the mirrored decoder block of Reverse Distillation: the first
/// convolution and the shortcut are 2×2 transposed convolutions of stride 2.
/// </summary>
internal sealed class ResNetBasicBlock : nn.Module<Tensor, Tensor>
{
    readonly nn.Module<Tensor, Tensor> conv1;
    readonly BatchNorm2d bn1;
    readonly Conv2d conv2;
    readonly BatchNorm2d bn2;
    readonly Sequential? shortcut;

    /// <summary>Creates a block from <paramref name="inChannels"/> to <paramref name="outChannels"/>.</summary>
    public ResNetBasicBlock(int inChannels, int outChannels, int stride = 1, bool upsample = false) : base("ResNetBasicBlock")
    {
        conv1 = upsample
            ? nn.ConvTranspose2d(inChannels, outChannels, 2, stride: 2, bias: false)
            : nn.Conv2d(inChannels, outChannels, 3, stride: stride, padding: 1, bias: false);
        bn1 = nn.BatchNorm2d(outChannels);
        conv2 = nn.Conv2d(outChannels, outChannels, 3, padding: 1, bias: false);
        bn2 = nn.BatchNorm2d(outChannels);
        if (upsample)
            shortcut = nn.Sequential(nn.ConvTranspose2d(inChannels, outChannels, 2, stride: 2, bias: false), nn.BatchNorm2d(outChannels));
        else if (stride != 1 || inChannels != outChannels)
            shortcut = nn.Sequential(nn.Conv2d(inChannels, outChannels, 1, stride: stride, bias: false), nn.BatchNorm2d(outChannels));
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = bn2.forward(conv2.forward(bn1.forward(conv1.forward(x)).relu_()));
        var identity = shortcut?.forward(x) ?? x;
        return (y + identity).relu_().MoveToOuterDisposeScope();
    }

    /// <summary>The block in evaluation mode as ONNX nodes (batch normalization folded).</summary>
    public string AppendOnnx(OnnxGraph g, string x)
    {
        string h = g.ConvBn(g.Node("Relu", new[] { AnyConvBn(g, x, conv1, bn1) }), conv2, bn2);
        string identity = shortcut == null ? x : AnyConvBn(g, x, shortcut[0], (BatchNorm2d)shortcut[1]);
        return g.Node("Relu", new[] { g.Node("Add", new[] { h, identity }) });
    }

    /// <summary>A convolution or, in an upsampling block, a transposed convolution, with its batch norm folded.</summary>
    static string AnyConvBn(OnnxGraph g, string x, object conv, BatchNorm2d bn) =>
        conv is ConvTranspose2d up ? g.ConvTransposeBn(x, up, bn) : g.ConvBn(x, (Conv2d)conv, bn);

    /// <summary>A stage of blocks as ONNX nodes.</summary>
    public static string AppendOnnx(Sequential stage, OnnxGraph g, string x)
    {
        foreach (var block in stage.children()) x = ((ResNetBasicBlock)block).AppendOnnx(g, x);
        return x;
    }

    /// <summary>A stage of <paramref name="blocks"/> blocks; the first changes the shape.</summary>
    public static Sequential Stage(int inChannels, int outChannels, int blocks, int stride = 1, bool upsample = false)
    {
        var list = new List<nn.Module<Tensor, Tensor>> { new ResNetBasicBlock(inChannels, outChannels, stride, upsample) };
        for (int i = 1; i < blocks; i++) list.Add(new ResNetBasicBlock(outChannels, outChannels));
        return nn.Sequential(list);
    }
}
