using AnomalySharp.Backbones;
using AnomalySharp.Components;
using AnomalySharp.Configuration;
using AnomalySharp.Training;
using static TorchSharp.torch;

namespace AnomalySharp.Models.ReverseDistillation;

/// <summary>
/// Reverse Distillation (Deng &amp; Li 2022): a frozen pretrained encoder (layer1–layer3), a trainable one-class
/// bottleneck embedding and a decoder that reconstructs the encoder's features from it. Loss per layer:
/// 1 − cosine similarity of the flattened features (the authors' code and anomalib) and/or the mean over pixels of
/// 1 − cosine over channels (the paper's equation), per <c>model.loss</c>. Anomaly map: the sum over layers of the
/// per-pixel 1 − cosine, upsampled bilinearly and blurred (σ = 4); score: its maximum.
/// </summary>
internal sealed partial class ReverseDistillationModel : NetworkModel
{
    /// <summary>The model and training sections of the default configuration (anomalib's optimizer).</summary>
    public static readonly string DefaultsYaml = $$"""
        model:
          name: reverse_distillation
          {{BackboneFactory.DefaultsYaml}}
          layers: [layer1, layer2, layer3]
          loss: both            # flat | pixel | both
          blur_sigma: 4.0
        {{TrainingOptions.DefaultsYaml(epochs: 200, optimizer: TrainingOptimizer.Adam, lr: 0.005, momentum: 0, weightDecay: 0,
            beta1: 0.5, beta2: 0.999)}}
        """;

    readonly ReverseDistillationNetwork _network;
    readonly ReverseDistillationLoss _loss;
    readonly GaussianBlur2d _blur;

    /// <inheritdoc />
    public override string Name => "reverse_distillation";
    /// <inheritdoc />
    public override nn.Module Network => _network;

    /// <summary>Builds an untrained model.</summary>
    public ReverseDistillationModel(ConfigTree config) : base(config)
    {
        if (Layers.Count != 3)
            throw new AnomalySharpException($"config key 'model.layers': reverse_distillation needs three layers, shallow to deep "
                + $"(got {Layers.Count})");
        var channels = Layers.Select(Backbone.Channels).ToArray();
        var strides = Layers.Select(Backbone.Stride).ToArray();
        if (strides[1] != 2 * strides[0] || strides[2] != 2 * strides[1])
            throw new AnomalySharpException($"config key 'model.layers': reverse_distillation needs layers at strides s, 2s, 4s (got "
                + $"{string.Join(", ", strides)})");
        if (ImageSize % (2 * strides[2]) != 0)
            throw new AnomalySharpException($"config key 'data.image_size': reverse_distillation needs a multiple of "
                + $"{2 * strides[2]}, got {ImageSize}");
        _loss = config.GetEnum<ReverseDistillationLoss>("model.loss");
        _blur = new GaussianBlur2d(config.GetDouble("model.blur_sigma", 0.01, 100));
        _network = new ReverseDistillationNetwork(channels, Seed);
    }

    /// <inheritdoc />
    public override Tensor Loss(Tensor? images, IReadOnlyList<Tensor> encoder)
    {
        using var scope = NewDisposeScope();
        var decoder = _network.forward(encoder.ToArray());
        Tensor? total = null;
        for (int i = 0; i < decoder.Length; i++)
        {
            var e = encoder[i]; var d = decoder[i];
            Tensor? layer = null;
            if (_loss != ReverseDistillationLoss.Pixel)
                layer = (1 - nn.functional.cosine_similarity(e.flatten(1), d.flatten(1), dim: 1)).mean();
            if (_loss != ReverseDistillationLoss.Flat)
            {
                var pixel = (1 - nn.functional.cosine_similarity(e, d, dim: 1)).mean();
                layer = layer is null ? pixel : layer + pixel;
            }
            total = total is null ? layer : total + layer!;
        }
        return total!.MoveToOuterDisposeScope();
    }
}
