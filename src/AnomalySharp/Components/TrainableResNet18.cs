using AnomalySharp.Graphs;
using AnomalySharp.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AnomalySharp.Components;

/// <summary>
/// A trainable ResNet18 (torchvision's layout with batch normalization) up to layer3, for students that learn from
/// the frozen pretrained network: stem (7×7 stride 2, max pool), layer1–layer3 (64, 128, 256 channels at strides 4, 8,
/// 16). Input: ImageNet-normalized RGB. <see cref="forward"/> returns the outputs of layer1..layer<c>depth</c>.
/// </summary>
internal sealed class TrainableResNet18 : nn.Module<Tensor, Tensor[]>
{
    readonly Conv2d conv1;
    readonly BatchNorm2d bn1;
    readonly ModuleList<Sequential> layers;

    /// <summary>The layer names, shallow to deep.</summary>
    public static readonly string[] LayerNames = { "layer1", "layer2", "layer3" };

    /// <summary>Creates the network with seeded He initialization.</summary>
    public TrainableResNet18(int seed) : base("TrainableResNet18")
    {
        conv1 = nn.Conv2d(3, 64, 7, stride: 2, padding: 3, bias: false);
        bn1 = nn.BatchNorm2d(64);
        layers = nn.ModuleList(
            ResNetBasicBlock.Stage(64, 64, 2),
            ResNetBasicBlock.Stage(64, 128, 2, stride: 2),
            ResNetBasicBlock.Stage(128, 256, 2, stride: 2));
        RegisterComponents();
        SeededInit.Apply(this, seed);
    }

    /// <summary>The network in evaluation mode as ONNX nodes: the value names of layer1..layer<paramref name="depth"/>.</summary>
    public string[] AppendOnnx(OnnxGraph g, string x, int depth)
    {
        string h = g.Node("Relu", new[] { g.ConvBn(x, conv1, bn1) });
        h = g.Node("MaxPool", new[] { h }, OnnxGraph.Attrs("kernel_shape", 3L, 3L), OnnxGraph.Attrs("strides", 2L, 2L),
            OnnxGraph.Attrs("pads", 1L, 1L, 1L, 1L));
        var outputs = new string[depth];
        for (int i = 0; i < depth; i++) outputs[i] = h = ResNetBasicBlock.AppendOnnx(layers[i], g, h);
        return outputs;
    }

    /// <summary>Outputs of layer1..layer3.</summary>
    public override Tensor[] forward(Tensor x) => Forward(x, 3);

    /// <summary>Outputs of layer1..layer<paramref name="depth"/> (1–3).</summary>
    public Tensor[] Forward(Tensor x, int depth)
    {
        var outputs = new Tensor[depth];
        using (var scope = NewDisposeScope())
        {
            var h = nn.functional.max_pool2d(bn1.forward(conv1.forward(x)).relu_(), 3, stride: 2, padding: 1);
            for (int i = 0; i < depth; i++) outputs[i] = h = layers[i].forward(h);
            foreach (var o in outputs) o.MoveToOuterDisposeScope();
        }
        return outputs;
    }
}
