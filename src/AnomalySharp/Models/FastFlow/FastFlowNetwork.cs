using AnomalySharp.Components;
using AnomalySharp.Graphs;
using AnomalySharp.Runtime;
using AnomalySharp.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AnomalySharp.Models.FastFlow;

/// <summary>FastFlow's learned part: one layer norm and one flow per backbone layer.</summary>
internal sealed class FastFlowNetwork : nn.Module<Tensor[], (Tensor Z, Tensor LogDet)[]>
{
    readonly ModuleList<LayerNorm> norms;
    readonly ModuleList<ModuleList<FlowCouplingBlock>> flows;

    public FastFlowNetwork(long[][] shapes, int steps, double hiddenRatio, bool conv3x3Only, double clamp, int seed) : base("FastFlow")
    {
        norms = nn.ModuleList(shapes.Select(s => nn.LayerNorm(s, elementwise_affine: true)).ToArray());
        flows = nn.ModuleList(shapes.Select((s, layer) => nn.ModuleList(Enumerable.Range(0, steps).Select(i =>
            new FlowCouplingBlock((int)s[0], kernelSize: i % 2 == 1 && !conv3x3Only ? 1 : 3, hiddenRatio: hiddenRatio, clamp: clamp,
                seed: Trainer.Mix(seed, layer, i))).ToArray())).ToArray());
        RegisterComponents();
    }

    public override (Tensor Z, Tensor LogDet)[] forward(Tensor[] features)
    {
        var result = new (Tensor, Tensor)[features.Length];
        for (int l = 0; l < features.Length; l++)
        {
            using var scope = NewDisposeScope();
            var (z, logDet) = Flow(l, norms[l].forward(features[l]));
            result[l] = (z.MoveToOuterDisposeScope(), logDet.MoveToOuterDisposeScope());
        }
        return result;
    }

    /// <summary>Layer <paramref name="layer"/>'s normalization and flow as ONNX nodes: the value name of z.</summary>
    public string AppendOnnx(OnnxGraph g, int layer, string features)
    {
        var norm = norms[layer];
        string z = g.Node("LayerNormalization", new[] { features, g.Constant("ln_scale", norm.weight!.detach()), g.Constant("ln_bias",
            norm.bias!.detach()) },
            OnnxGraph.Attr("axis", 1L), OnnxGraph.Attr("epsilon", (float)norm.eps));
        foreach (var block in flows[layer]) z = block.AppendOnnx(g, z);
        return z;
    }

    /// <summary>The flow of layer <paramref name="layer"/> on normalized features: z and log|det ∂z/∂x| per image.</summary>
    public (Tensor Z, Tensor LogDet) Flow(int layer, Tensor x)
    {
        using var scope = NewDisposeScope();
        var z = x;
        Tensor? logDet = null;
        foreach (var block in flows[layer])
        {
            var (y, ld) = block.Forward(z);
            z = y;
            logDet = logDet is null ? ld : logDet + ld;
        }
        return (z.MoveToOuterDisposeScope(), logDet!.MoveToOuterDisposeScope());
    }
}
