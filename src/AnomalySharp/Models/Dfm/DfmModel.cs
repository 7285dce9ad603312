using AnomalySharp.Backbones;
using AnomalySharp.Components;
using AnomalySharp.Configuration;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using static TorchSharp.torch;

namespace AnomalySharp.Models.Dfm;

/// <summary>
/// DFM, deep feature modelling (Ahuja et al. 2019; anomalib's Dfm): pretrained features of one layer, average-pooled,
/// one vector per image; PCA keeping 97% of the variance; the anomaly score is the feature reconstruction error
/// ("fre", with a map: the per-position error upsampled) or the Gaussian negative log-likelihood of the PCA
/// coordinates ("nll"). Built from the library's components: a feature extractor, <see cref="Pca"/>,
/// <see cref="MultivariateGaussian"/> and <see cref="GaussianBlur2d"/>. It began as the plugin sample.
/// </summary>
internal sealed partial class DfmModel : IAnomalyModel
{
    /// <summary>The model section of the default configuration.</summary>
    public const string DefaultsYaml = $$"""
        model:
          name: dfm
          {{BackboneFactory.DefaultsYaml}}
          layers: [layer3]
          pooling_kernel_size: 4
          pca_level: 0.97
          score_type: fre
          blur_sigma: 4.0
        """;

    readonly IFeatureExtractor _backbone;
    readonly string _layer;
    readonly int _pool;
    readonly double _pcaLevel;
    readonly string _scoreType;
    readonly GaussianBlur2d _blur;
    readonly MultivariateGaussian _gaussian = new();
    Pca? _pca;

    /// <inheritdoc />
    public string Name => "dfm";

    /// <summary>Builds an unfitted model from a configuration.</summary>
    public DfmModel(ConfigTree config)
    {
        var (backbone, layers) = BackboneFactory.FromConfig(config);
        config.Note("model.layers", "exactly one layer of the backbone (resnet18: layer1 .. layer4)");
        if (layers.Count != 1) throw new AnomalySharpException("dfm: model.layers takes exactly one layer");
        _backbone = backbone;
        _layer = layers[0];
        _pool = config.GetInt("model.pooling_kernel_size", 1, 64);
        _pcaLevel = config.GetDouble("model.pca_level", 1e-6, 100000);
        _scoreType = config.GetChoice("model.score_type", "fre", "nll");
        _blur = new GaussianBlur2d(config.GetDouble("model.blur_sigma", 0.01, 100));
    }

    /// <summary>Pooled features [B,C,h,w].</summary>
    Tensor Features(Tensor images)
    {
        using var scope = NewDisposeScope();
        var f = _backbone.Extract(images, new[] { _layer })[0];
        if (_pool > 1) f = nn.functional.avg_pool2d(f, kernel_size: _pool, stride: _pool);
        return f.MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public void Fit(FitData data, IProgressReporter progress)
    {
        var rows = new List<Tensor>();
        using (var step = progress.Start("dfm features", data.Count))
            foreach (var batch in data.Batches())
            {
                using (batch) rows.Add(Features(batch.Images).flatten(1).DetachFromDisposeScope());
                step.Advance(batch.Samples.Count);
            }
        using var all = cat(rows, 0);
        foreach (var r in rows) r.Dispose();
        _pca = Pca.Fit(all, _pcaLevel);
        using var coordinates = _pca.Transform(all);
        _gaussian.Update(coordinates.unsqueeze(2)); // one "position": a single Gaussian over images
        _gaussian.Finish(1e-6);
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Tensor> GetState() => new Dictionary<string, Tensor>
    {
        ["pca_mean"] = _pca?.Mean ?? throw new InvalidOperationException("dfm is not fitted"),
        ["pca_components"] = _pca.Components,
        ["gaussian_mean"] = _gaussian.Mean!,
        ["gaussian_inverse_covariance"] = _gaussian.PackedInverseCovariance!,
    };

    /// <inheritdoc />
    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        _pca?.Dispose();
        _pca = Pca.FromState(state["pca_mean"], state["pca_components"]);
        _gaussian.Load(state["gaussian_mean"], state["gaussian_inverse_covariance"]);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _pca?.Dispose();
        _gaussian.Dispose();
    }
}
