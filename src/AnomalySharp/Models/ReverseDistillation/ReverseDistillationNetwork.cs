using AnomalySharp.Components;
using AnomalySharp.Graphs;
using AnomalySharp.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AnomalySharp.Models.ReverseDistillation;

/// <summary>
/// Reverse Distillation's learned part for a ResNet18 encoder (64, 128, 256 channels at strides 4, 8, 16):
/// the one-class bottleneck embedding (layer1 and layer2 brought to layer3's grid by strided 3×3 convolutions,
/// concatenated with layer3, then a stage of two residual blocks of 512 channels at stride 2) and the decoder that
/// mirrors the encoder with transposed-convolution residual stages (512→256→128→64). Returns the decoder's outputs
/// shallow to deep, matching the encoder's layers.
/// </summary>
internal sealed class ReverseDistillationNetwork : nn.Module<Tensor[], Tensor[]>
{
    readonly Sequential fuse1;
    readonly Sequential fuse2;
    readonly Sequential bottleneck;
    readonly ModuleList<Sequential> decoder;

    static Sequential ConvBnRelu(long input, long output) =>
        nn.Sequential(nn.Conv2d(input, output, 3, stride: 2, padding: 1, bias: false), nn.BatchNorm2d(output), nn.ReLU(inplace: true));

    public ReverseDistillationNetwork(int[] channels, int seed) : base("ReverseDistillation")
    {
        int c1 = channels[0], c2 = channels[1], c3 = channels[2];
        fuse1 = nn.Sequential(ConvBnRelu(c1, c2), ConvBnRelu(c2, c3));
        fuse2 = ConvBnRelu(c2, c3);
        bottleneck = ResNetBasicBlock.Stage(3 * c3, 2 * c3, 2, stride: 2);
        decoder = nn.ModuleList(
            ResNetBasicBlock.Stage(2 * c3, c3, 2, upsample: true),
            ResNetBasicBlock.Stage(c3, c2, 2, upsample: true),
            ResNetBasicBlock.Stage(c2, c1, 2, upsample: true));
        RegisterComponents();
        SeededInit.Apply(this, seed);
    }

    /// <summary>The network in evaluation mode as ONNX nodes: decoder outputs shallow to deep.</summary>
    public string[] AppendOnnx(OnnxGraph g, string[] encoder)
    {
        static string Down(OnnxGraph g, string x, Sequential s) => g.Node("Relu", new[] { g.ConvBn(x, (Conv2d)s[0], (BatchNorm2d)s[1]) });
        string f1 = Down(g, Down(g, encoder[0], (Sequential)fuse1[0]), (Sequential)fuse1[1]);
        string f2 = Down(g, encoder[1], fuse2);
        string x = ResNetBasicBlock.AppendOnnx(bottleneck, g, g.Node("Concat", new[] { f1, f2, encoder[2] }, OnnxGraph.Attr("axis", 1L)));
        string deep = ResNetBasicBlock.AppendOnnx(decoder[0], g, x);
        string middle = ResNetBasicBlock.AppendOnnx(decoder[1], g, deep);
        string shallow = ResNetBasicBlock.AppendOnnx(decoder[2], g, middle);
        return new[] { shallow, middle, deep };
    }

    public override Tensor[] forward(Tensor[] encoder)
    {
        using var scope = NewDisposeScope();
        var fused = cat(new[] { fuse1.forward(encoder[0]), fuse2.forward(encoder[1]), encoder[2] }, 1);
        var x = bottleneck.forward(fused);
        var deep = decoder[0].forward(x);
        var middle = decoder[1].forward(deep);
        var shallow = decoder[2].forward(middle);
        var result = new[] { shallow, middle, deep };
        foreach (var r in result) r.MoveToOuterDisposeScope();
        return result;
    }
}
