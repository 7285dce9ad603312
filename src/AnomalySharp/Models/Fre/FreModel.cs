using AnomalySharp.Backbones;
using AnomalySharp.Components;
using AnomalySharp.Configuration;
using AnomalySharp.Training;
using static TorchSharp.torch;

namespace AnomalySharp.Models.Fre;

/// <summary>
/// FRE, feature reconstruction error (Ndiour et al., BMVC 2023; anomalib's Fre): the pretrained features of one layer,
/// average-pooled and flattened into one vector per image, are reconstructed by a shallow linear autoencoder with tied
/// weights (<see cref="TiedAutoencoder"/>) trained with Adam on the mean squared error. The squared reconstruction error,
/// summed over channels, is the anomaly map (upsampled and blurred); its sum is the image score. The frozen features
/// are computed once (the training's feature cache), so an epoch is two matrix products over the cached vectors.
/// </summary>
internal sealed partial class FreModel : NetworkModel
{
    /// <summary>
    /// The model and training sections of the default configuration: anomalib's Adam, lr 1e-3, 220 epochs at most,
    /// stopping after 30 epochs without a 1% gain on held-out good images (the others wait 5). From its small Xavier start
    /// the autoencoder's held-out loss falls for a few epochs, stalls, then falls again: on MVTec bottle it stalled from
    /// epoch 7 to 30, and stopping at the first stall cost 0.013 image AUROC. No validation during training (an epoch
    /// takes a fifth of a second, a validation many times that).
    /// </summary>
    public static readonly string DefaultsYaml = $$"""
        model:
          name: fre
          {{BackboneFactory.DefaultsYaml}}
          layers: [layer3]
          pooling_kernel_size: 2
          latent_dim: 220
          blur_sigma: 4.0
        {{TrainingOptions.DefaultsYaml(epochs: 220, optimizer: TrainingOptimizer.Adam, lr: 0.001, momentum: 0, weightDecay: 0,
            validateEvery: 0, patience: 30)}}
        """;

    readonly int _pool;
    readonly long[] _shape; // the pooled feature grid [C,h,w] at the model's input size
    readonly TiedAutoencoder _autoencoder;
    readonly GaussianBlur2d _blur;

    /// <inheritdoc />
    public override string Name => "fre";
    /// <inheritdoc />
    public override nn.Module Network => _autoencoder;

    /// <summary>Builds an untrained model.</summary>
    public FreModel(ConfigTree config) : base(config)
    {
        config.Note("model.layers", "exactly one layer of the backbone (resnet18: layer1 .. layer4)");
        if (Layers.Count != 1) throw new AnomalySharpException("fre: model.layers takes exactly one layer");
        _pool = config.GetInt("model.pooling_kernel_size", 1, 64);
        int latent = config.GetInt("model.latent_dim", 1, 65536);
        _blur = new GaussianBlur2d(config.GetDouble("model.blur_sigma", 0.01, 100));
        using (var scope = NewDisposeScope())
        {
            var grid = Backbone.Extract(zeros(1, 3, ImageSize, ImageSize), Layers)[0].shape;
            if (grid[2] < _pool || grid[3] < _pool)
                throw new AnomalySharpException($"config key 'model.pooling_kernel_size': {_pool} is larger than {Layers[0]}'s "
                    + $"{grid[2]}x{grid[3]} grid at {ImageSize} px");
            _shape = new[] { grid[1], grid[2] / _pool, grid[3] / _pool }; // avg_pool2d's floor
        }
        long input = _shape[0] * _shape[1] * _shape[2];
        if (input * latent > 256L << 20)
            throw new AnomalySharpException($"config key 'model.latent_dim': {latent} × {input} pooled features is over 256 M weights "
                + "(raise model.pooling_kernel_size or lower model.latent_dim)");
        _autoencoder = new TiedAutoencoder(input, latent, Seed);
    }

    /// <summary>The layer's features, average-pooled: [N,C,h,w].</summary>
    Tensor Pooled(Tensor images)
    {
        using var scope = NewDisposeScope();
        var f = Backbone.Extract(images, Layers)[0];
        if (_pool > 1) f = nn.functional.avg_pool2d(f, kernel_size: _pool, stride: _pool);
        return f.MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    /// <remarks>One flattened vector per image [N, C·h·w].</remarks>
    public override Tensor[] FrozenFeatures(Tensor images)
    {
        using var scope = NewDisposeScope();
        return new[] { Pooled(images).flatten(1).MoveToOuterDisposeScope() };
    }

    /// <inheritdoc />
    public override Tensor Loss(Tensor? images, IReadOnlyList<Tensor> frozen)
    {
        using var scope = NewDisposeScope();
        return nn.functional.mse_loss(_autoencoder.forward(frozen[0]), frozen[0]).MoveToOuterDisposeScope();
    }
}
