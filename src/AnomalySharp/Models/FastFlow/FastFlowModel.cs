using AnomalySharp.Backbones;
using AnomalySharp.Configuration;
using AnomalySharp.Training;
using static TorchSharp.torch;

namespace AnomalySharp.Models.FastFlow;

/// <summary>
/// FastFlow (Yu et al. 2021): the frozen pretrained features of layer1–layer3, each layer-normalized over
/// (C,H,W) with a learned affine, go through a 2-d normalizing flow of <c>flow_steps</c> affine coupling blocks
/// (subnets of 3×3 and 1×1 convolutions alternating, soft-clamped log-scales, fixed seeded permutations). Loss: the
/// negative log-likelihood under a standard normal, ½‖z‖² − log|det J| per image, summed over layers. Anomaly map:
/// per layer −exp(−½·mean over channels of z²), upsampled bilinearly and averaged over layers; score: its maximum.
/// </summary>
internal sealed partial class FastFlowModel : NetworkModel
{
    /// <summary>The model and training sections of the default configuration (anomalib's ResNet18 settings).</summary>
    public static readonly string DefaultsYaml = $$"""
        model:
          name: fastflow
          {{BackboneFactory.DefaultsYaml}}
          layers: [layer1, layer2, layer3]
          flow_steps: 8
          hidden_ratio: 1.0
          conv3x3_only: false
          clamp: 2.0
        {{TrainingOptions.DefaultsYaml(epochs: 500, optimizer: TrainingOptimizer.Adam, lr: 0.001, momentum: 0, weightDecay: 0.00001,
            monitor: TrainingMonitor.HoldoutSynthetic)}}
        """;

    readonly FastFlowNetwork _network;

    /// <inheritdoc />
    public override string Name => "fastflow";
    /// <inheritdoc />
    public override nn.Module Network => _network;

    /// <summary>Builds an untrained model.</summary>
    public FastFlowModel(ConfigTree config) : base(config)
    {
        int steps = config.GetInt("model.flow_steps", 1, 64);
        double hidden = config.GetDouble("model.hidden_ratio", 0.01, 16);
        bool conv3x3Only = config.GetBool("model.conv3x3_only");
        double clamp = config.GetDouble("model.clamp", 0.01, 100);
        var shapes = Layers.Select(l =>
        {
            int stride = Backbone.Stride(l);
            if (ImageSize % stride != 0) throw new AnomalySharpException($"config key 'data.image_size': fastflow needs a multiple of "
                + $"{stride} (the stride of {l}), got {ImageSize}");
            return new long[] { Backbone.Channels(l), ImageSize / stride, ImageSize / stride };
        }).ToArray();
        _network = new FastFlowNetwork(shapes, steps, hidden, conv3x3Only, clamp, Seed);
    }

    /// <inheritdoc />
    public override Tensor Loss(Tensor? images, IReadOnlyList<Tensor> features)
    {
        using var scope = NewDisposeScope();
        Tensor? total = null;
        foreach (var (z, logDet) in _network.forward(features.ToArray()))
        {
            var nll = (z.square().sum(new long[] { 1, 2, 3 }) * 0.5 - logDet).mean();
            total = total is null ? nll : total + nll;
        }
        return total!.MoveToOuterDisposeScope();
    }

}
