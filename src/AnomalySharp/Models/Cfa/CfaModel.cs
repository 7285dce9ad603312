using AnomalySharp.Backbones;
using AnomalySharp.Components;
using AnomalySharp.Configuration;
using AnomalySharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace AnomalySharp.Models.Cfa;

/// <summary>
/// CFA, coupled-hypersphere-based feature adaptation (Lee et al., IEEE Access 2022; anomalib's Cfa): the pretrained
/// layers' features, 3×3 average-pooled and brought to the finest layer's grid, are one patch feature per position; a
/// learned 1×1 CoordConv (<see cref="PatchDescriptor"/>) maps them to target-oriented features. Its memory bank is the
/// untrained descriptor's mean output per position over the training images. Training pulls each feature's K nearest
/// memory centres inside a hypersphere of radius r and pushes the next J (hard negatives) out past r² + 0.1 (loss ×1000).
/// Anomaly map: for each position, the distance d₁ to its nearest centre weighted by softmin over its K nearest
/// distances, upsampled and blurred (σ 4); image score: the map's maximum. Distances are a full search over the bank, so
/// a position costs C·P multiply-adds (at 256 px with layer1–layer3: 448 × 4096).
/// </summary>
internal sealed partial class CfaModel : NetworkModel, IInitializedFromData
{
    /// <summary>
    /// The model and training sections of the default configuration: anomalib's K = J = 3, radius 1e-5, lr 1e-3, 30 epochs
    /// at most with early stopping (patience 5; here on held-out good images). anomalib's optimizer is AdamW with
    /// decoupled weight decay 5e-4 and amsgrad; here Adam without decay (at lr 1e-3 that decay shrinks the weights by
    /// 5e-7 per step).
    /// </summary>
    public static readonly string DefaultsYaml = $$"""
        model:
          name: cfa
          {{BackboneFactory.DefaultsYaml}}
          layers: [layer1, layer2, layer3]
          num_nearest_neighbors: 3
          num_hard_negative_features: 3
          radius: 0.00001
          blur_sigma: 4.0
        {{TrainingOptions.DefaultsYaml(epochs: 30, optimizer: TrainingOptimizer.Adam, lr: 0.001, momentum: 0, weightDecay: 0,
            validateEvery: 0, patience: 5)}}
        """;

    /// <summary>Grid positions above this (a 128×128 grid: layer1 at 512 px) are refused: every position is compared with
    /// every memory centre, P² distances per image.</summary>
    internal const long MaxPositions = 128 * 128;

    readonly int _nearest, _hardNegatives;
    readonly double _radius;
    readonly long _height, _width;
    readonly PatchDescriptor _descriptor;
    readonly GaussianBlur2d _blur;

    /// <inheritdoc />
    public override string Name => "cfa";
    /// <inheritdoc />
    public override nn.Module Network => _descriptor;
    /// <inheritdoc />
    public bool NeedsInitialization => !_descriptor.Initialized;

    /// <summary>Builds an untrained model.</summary>
    public CfaModel(ConfigTree config) : base(config)
    {
        _nearest = config.GetInt("model.num_nearest_neighbors", 1, 64);
        _hardNegatives = config.GetInt("model.num_hard_negative_features", 0, 64);
        _radius = config.GetDouble("model.radius", 0, 1e6);
        _blur = new GaussianBlur2d(config.GetDouble("model.blur_sigma", 0.01, 100));
        long channels;
        using (var scope = NewDisposeScope())
        using (var probe = zeros(1, 3, ImageSize, ImageSize))
        {
            var grid = Embed(probe).shape;
            (channels, _height, _width) = (grid[1], grid[2], grid[3]);
        }
        if (_height < 2 || _width < 2 || _height * _width > MaxPositions)
            throw new AnomalySharpException($"cfa: {Layers[0]}'s grid at {ImageSize} px is {_height}x{_width}; cfa compares every "
                + $"position with every memory centre and takes 2x2 to {MaxPositions} positions (change data.image_size or use "
                + "data.tiling)");
        if (_nearest + _hardNegatives > _height * _width)
            throw new AnomalySharpException($"config key 'model.num_hard_negative_features': {_nearest} nearest and {_hardNegatives} "
                + $"hard negatives exceed the memory bank's {_height * _width} centres");
        _descriptor = new PatchDescriptor(channels, _height, _width, Seed);
    }

    /// <summary>Locally aware patch features [N,C,h,w] (<see cref="LocalPatchFeatures"/>).</summary>
    Tensor Embed(Tensor images)
    {
        using var scope = NewDisposeScope();
        return LocalPatchFeatures.Of(Backbone.Extract(images, Layers)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    /// <remarks>The patch features [N,C,h,w] (what the feature cache keeps).</remarks>
    public override Tensor[] FrozenFeatures(Tensor images)
    {
        using var noGrad = no_grad();
        return new[] { Embed(images) };
    }

    /// <inheritdoc />
    public void Initialize(IEnumerable<Tensor[]> frozenBatches)
    {
        _descriptor.eval();
        _descriptor.Initialize(frozenBatches.Select(f => f[0]));
    }

    /// <inheritdoc />
    /// <remarks>
    /// The K+J nearest centres of each position come from a full search without gradients (one matrix product per image
    /// and a top-k). Only the distances to those centres enter the loss, and the gradient of ‖t−m‖² with respect to t is
    /// 2(t−m), so the loss's gradient is assembled directly, as a sum over the K+J chosen centres per position, and handed to
    /// autograd as the gradient of a term whose value is the loss: no [N,P,K+J,C] tensor of gathered centres is built.
    /// </remarks>
    public override Tensor Loss(Tensor? images, IReadOnlyList<Tensor> frozen)
    {
        if (NeedsInitialization) throw new InvalidOperationException("cfa: the memory bank is not built yet");
        using var scope = NewDisposeScope();
        var t = _descriptor.forward(frozen[0]).flatten(2).transpose(1, 2);          // [N,P,C]
        var (value, gradient) = NearestTerms(t.detach());
        var surrogate = t.mul(gradient).sum();                                        // its gradient with respect to t: the loss's
        return surrogate.sub(surrogate.detach()).add(value).MoveToOuterDisposeScope();
    }

    /// <summary>The loss (a scalar) and its gradient with respect to the target-oriented features <paramref name="t"/> [N,P,C].</summary>
    (Tensor Value, Tensor Gradient) NearestTerms(Tensor t)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        long n = t.shape[0], p = t.shape[1];
        int k = _nearest + _hardNegatives;
        var memory = _descriptor.Memory;                                              // [C,P]
        var rows = memory.t().contiguous();                                           // [P,C]
        var norms = memory.square().sum(dim: 0).unsqueeze(0);                        // [1,P]
        double attractScale = 1000.0 / (n * p * _nearest), repelScale = _hardNegatives == 0 ? 0 : 1000.0 / (n * p * _hardNegatives);
        using var r2 = (_radius * _radius).ToScalar();
        using var margin = 0.1.ToScalar();
        using var zero = 0.0.ToScalar();
        using var two = 2.0.ToScalar();
        using var attractS = attractScale.ToScalar();
        using var repelS = (-repelScale).ToScalar();
        var value = zeros(1, dtype: float64);
        var gradients = new Tensor[n];
        for (long i = 0; i < n; i++)
        {
            using var perImage = NewDisposeScope(); // a [P,P] product and K+J gathered [P,C] centres per image: freed image by image
            var ti = t[i];                                                            // [P,C]
            // ‖m‖² − 2 t·m orders each row's centres as ‖t−m‖² does; ‖t‖² is added to the K+J kept values only.
            var (kept, index) = addmm(norms, ti, memory, beta: 1, alpha: -2).topk(k, dim: 1, largest: false, sorted: true);
            var d = kept.add(ti.square().sum(1, keepdim: true));                      // [P,k]
            var attract = d.narrow(1, 0, _nearest).sub(r2);
            value.add_(attract.clamp_min(zero).sum().to(float64).mul(attractS));
            var weights = attract.gt(zero).to(t.dtype).mul(attractS);                // ∂loss/∂d of the K nearest
            if (_hardNegatives > 0)
            {
                var repel = d.narrow(1, _nearest, _hardNegatives).neg().add(r2).sub(margin);
                value.add_(repel.clamp_min(zero).sum().to(float64).mul(repelS).neg());
                weights = cat(new[] { weights, repel.gt(zero).to(t.dtype).mul(repelS) }, 1);
            }
            // Σ_k w_k · 2(t − m_k) = 2 (t Σ_k w_k − Σ_k w_k m_k)
            var gradient = ti.mul(weights.sum(1, keepdim: true));
            for (int j = 0; j < k; j++)
                gradient.sub_(rows.index_select(0, index.select(1, j)).mul_(weights.narrow(1, j, 1)));
            gradients[i] = gradient.mul_(two).MoveToOuterDisposeScope();
        }
        return (value.to(t.dtype).squeeze().MoveToOuterDisposeScope(), stack(gradients).MoveToOuterDisposeScope());
    }
}
