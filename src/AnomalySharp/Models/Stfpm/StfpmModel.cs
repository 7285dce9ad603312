using AnomalySharp.Backbones;
using AnomalySharp.Components;
using AnomalySharp.Configuration;
using AnomalySharp.Training;
using static TorchSharp.torch;

namespace AnomalySharp.Models.Stfpm;

/// <summary>
/// STFPM (Wang et al. 2021): a student ResNet18 from random initialization learns to reproduce the frozen pretrained
/// teacher's features of layer1–layer3 on normal images. Loss: for each layer, the squared distance between the
/// channel-normalized teacher and student features, halved and divided by the layer's area, summed over pixels,
/// images and layers. Anomaly map: per layer ½‖t̂ − ŝ‖² over channels, upsampled bilinearly to the image and
/// multiplied across layers; image score: its maximum.
/// </summary>
internal sealed partial class StfpmModel : NetworkModel
{
    /// <summary>The model and training sections of the default configuration (anomalib's optimizer).</summary>
    public static readonly string DefaultsYaml = $$"""
        model:
          name: stfpm
          {{BackboneFactory.DefaultsYaml}}
          layers: [layer1, layer2, layer3]
        {{TrainingOptions.DefaultsYaml(epochs: 100, optimizer: TrainingOptimizer.Sgd, lr: 0.4, momentum: 0.9, weightDecay: 0.0001)}}
        """;

    readonly TrainableResNet18 _student;
    readonly int _depth;
    readonly Tensor _mean = tensor(new[] { 0.485f, 0.456f, 0.406f }).view(1, 3, 1, 1).DetachFromDisposeScope();
    readonly Tensor _std = tensor(new[] { 0.229f, 0.224f, 0.225f }).view(1, 3, 1, 1).DetachFromDisposeScope();
    readonly int[] _studentIndex;

    /// <inheritdoc />
    public override string Name => "stfpm";
    /// <inheritdoc />
    public override nn.Module Network => _student;
    /// <inheritdoc />
    public override bool LossNeedsImages => true;

    /// <summary>Builds an untrained model.</summary>
    public StfpmModel(ConfigTree config) : base(config)
    {
        _studentIndex = Layers.Select(l => Array.IndexOf(TrainableResNet18.LayerNames, l)).ToArray();
        if (_studentIndex.Any(i => i < 0))
            throw new AnomalySharpException($"config key 'model.layers': stfpm's student has "
                + $"{string.Join(", ", TrainableResNet18.LayerNames)}");
        for (int i = 0; i < Layers.Count; i++)
            if (Backbone.Channels(Layers[i]) != 64 << _studentIndex[i] || Backbone.Stride(Layers[i]) != 4 << _studentIndex[i])
                throw new AnomalySharpException($"config key 'model.backbone': stfpm needs a ResNet18-shaped teacher ({Layers[i]} has "
                    + $"{Backbone.Channels(Layers[i])} channels at stride {Backbone.Stride(Layers[i])})");
        _depth = _studentIndex.Max() + 1;
        _student = new TrainableResNet18(Seed);
    }

    Tensor[] Student(Tensor images)
    {
        using var scope = NewDisposeScope();
        var all = _student.Forward((images - _mean) / _std, _depth);
        var result = _studentIndex.Select(i => all[i]).ToArray();
        foreach (var r in result) r.MoveToOuterDisposeScope();
        return result;
    }

    /// <inheritdoc />
    public override Tensor Loss(Tensor? images, IReadOnlyList<Tensor> teacher)
    {
        using var scope = NewDisposeScope();
        var student = Student(images!);
        Tensor? total = null;
        for (int i = 0; i < student.Length; i++)
        {
            var t = nn.functional.normalize(teacher[i], dim: 1);
            var s = nn.functional.normalize(student[i], dim: 1);
            double area = t.shape[2] * t.shape[3];
            var layer = (t - s).square().sum() * (0.5 / area);
            total = total is null ? layer : total + layer;
        }
        return total!.MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    protected override void DisposeMore() { _mean.Dispose(); _std.Dispose(); }
}
