using AnomalySharp.Backbones;
using AnomalySharp.Components;
using AnomalySharp.Configuration;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Models;
using static TorchSharp.torch;

namespace AnomalySharp.Samples.CustomModel;

/// <summary>
/// Semi-orthogonal embedding (Kim et al. 2021, "Semi-orthogonal Embedding for Efficient Unsupervised Anomaly
/// Segmentation"): PaDiM's Gaussian per patch position, but the features of layers 1-3 (upsampled to the finest grid
/// and concatenated) are projected onto k dimensions by a seeded random semi-orthogonal matrix W [C,k] (the Q of a
/// Gaussian matrix's QR decomposition) instead of keeping k channels at random. The Mahalanobis distance under the
/// projected Gaussian approximates the full one where a random subset of channels loses whatever the dropped channels
/// held. Built only from the library's public components: a feature extractor, <see cref="MultivariateGaussian"/> and
/// <see cref="GaussianBlur2d"/>.
/// </summary>
public sealed partial class SemiOrthogonalModel : IAnomalyModel
{
    /// <summary>The model section of the default configuration.</summary>
    public const string DefaultsYaml = $$"""
        model:
          name: semi_orthogonal
          {{BackboneFactory.DefaultsYaml}}
          layers: [layer1, layer2, layer3]
          k: 100
          covariance_epsilon: 0.01
          blur_sigma: 4.0
        """;

    readonly IFeatureExtractor _backbone;
    readonly IReadOnlyList<string> _layers;
    readonly int _k;
    readonly double _epsilon;
    readonly GaussianBlur2d _blur;
    readonly MultivariateGaussian _gaussian = new();
    Tensor _projection; // W [C,k], orthonormal columns

    /// <inheritdoc />
    public string Name => "semi_orthogonal";

    /// <summary>The projection W [C,k]: orthonormal columns drawn from the configuration's seed.</summary>
    public Tensor Projection => _projection;

    /// <summary>Builds an unfitted model from a configuration.</summary>
    public SemiOrthogonalModel(ConfigTree config)
    {
        (_backbone, _layers) = BackboneFactory.FromConfig(config);
        int channels = _layers.Sum(_backbone.Channels);
        _k = config.GetInt("model.k", 1, channels);
        _epsilon = config.GetDouble("model.covariance_epsilon", 1e-6, 1e6);
        _blur = new GaussianBlur2d(config.GetDouble("model.blur_sigma", 0.01, 100));
        _projection = SemiOrthogonal(channels, _k, config.GetInt("seed"));
    }

    /// <summary>The Q of the QR decomposition of a [rows,columns] matrix of standard normal draws from <paramref name="seed"/>.</summary>
    static Tensor SemiOrthogonal(int rows, int columns, int seed)
    {
        var random = new Random(seed);
        var draws = new double[rows * columns];
        for (int i = 0; i < draws.Length; i++) // Box-Muller: the same draws on every platform
            draws[i] = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        using var scope = NewDisposeScope();
        var (q, _) = linalg.qr(tensor(draws).view(rows, columns));
        return q.to_type(ScalarType.Float32).contiguous().DetachFromDisposeScope();
    }

    /// <summary>The projected embedding [B,k,P] of images: the layers on the finest grid, concatenated, times W.</summary>
    Tensor Embed(Tensor images, out long h, out long w)
    {
        using var scope = NewDisposeScope();
        var features = _backbone.Extract(images, _layers);
        long gh = h = features[0].shape[2], gw = w = features[0].shape[3];
        var parts = features.Select(f => f.shape[2] == gh ? f : nn.functional.interpolate(f, new long[] { gh, gw },
            mode: InterpolationMode.Nearest)).ToList();
        var all = cat(parts, 1).flatten(2); // [B,C,P]
        return matmul(_projection.t(), all).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public void Fit(FitData data, IProgressReporter progress)
    {
        using (var step = progress.Start("fit semi_orthogonal", data.Count))
            foreach (var batch in data.Batches())
            {
                using (batch)
                using (var embedding = Embed(batch.Images, out _, out _))
                    _gaussian.Update(embedding);
                step.Advance(batch.Samples.Count);
            }
        _gaussian.Finish(_epsilon);
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Tensor> GetState() => new Dictionary<string, Tensor>
    {
        ["projection"] = _projection,
        ["mean"] = _gaussian.Mean ?? throw new InvalidOperationException("semi_orthogonal is not fitted"),
        ["inverse_covariance_upper"] = _gaussian.PackedInverseCovariance!,
    };

    /// <inheritdoc />
    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        _projection.Dispose();
        _projection = state["projection"].DetachFromDisposeScope();
        _gaussian.Load(state["mean"], state["inverse_covariance_upper"]);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _gaussian.Dispose();
        _projection.Dispose();
    }
}
