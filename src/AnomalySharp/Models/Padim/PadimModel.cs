using AnomalySharp.Backbones;
using AnomalySharp.Components;
using AnomalySharp.Configuration;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Runtime;
using static TorchSharp.torch;

namespace AnomalySharp.Models.Padim;

/// <summary>
/// PaDiM (Defard et al. 2020): pretrained features of several layers, upsampled to the finest grid and
/// concatenated, a seeded random subset of their channels, one Gaussian per patch position, Mahalanobis distance
/// as the patch score, bilinear upsampling and a Gaussian blur as the anomaly map, its maximum as the image score.
/// Fit streams: only running sums are kept, never the features of all images. With model.updatable the model file
/// also keeps the float64 sums an exact merge needs, so `anomalysharp update` folds new good images in and gives what a
/// fit on all of them would.
/// </summary>
internal sealed partial class PadimModel : IAnomalyModel, IUpdatableModel
{
    /// <summary>The model section of the default configuration.</summary>
    public const string DefaultsYaml = $$"""
        model:
          name: padim
          {{BackboneFactory.DefaultsYaml}}
          layers: [layer1, layer2, layer3]
          n_features: 100
          covariance_epsilon: 0.01
          blur_sigma: 4.0
          updatable: true
        """;

    readonly IFeatureExtractor _backbone;
    readonly IReadOnlyList<string> _layers;
    readonly int _nFeatures;
    readonly double _epsilon;
    readonly GaussianBlur2d _blur;
    readonly bool _updatable;
    readonly MultivariateGaussian _gaussian = new();
    Tensor? _countState;
    Tensor _selected; // ascending channel indices into the concatenated layers, [n_features]
    Tensor?[] _perLayer; // the same indices split by layer, local to each layer (null: none from that layer)

    /// <inheritdoc />
    public string Name => "padim";

    /// <summary>Builds an unfitted model from a configuration.</summary>
    public PadimModel(ConfigTree config)
    {
        (_backbone, _layers) = BackboneFactory.FromConfig(config);
        int total = _layers.Sum(_backbone.Channels);
        _nFeatures = config.GetInt("model.n_features", 1, total);
        // Above zero: with none added, a covariance of fewer patches than channels is singular and cannot be inverted.
        _epsilon = config.GetDouble("model.covariance_epsilon", 1e-6, 1e6);
        _blur = new GaussianBlur2d(config.GetDouble("model.blur_sigma", 0.01, 100));
        _updatable = config.Has("model.updatable") && config.GetBool("model.updatable");
        int seed = config.GetInt("seed");
        var order = Enumerable.Range(0, total).ToArray();
        new Random(seed).Shuffle(order);
        // Ascending, so selecting per layer and concatenating keeps this order (the order is irrelevant to the Gaussian).
        _selected = tensor(order.Take(_nFeatures).Order().Select(i => (long)i).ToArray()).DetachFromDisposeScope();
        _perLayer = SplitByLayer(_selected);
    }

    /// <summary>Splits ascending global channel indices into per-layer local index tensors (once, not per batch).</summary>
    Tensor?[] SplitByLayer(Tensor selected)
    {
        long[] indices = selected.data<long>().ToArray();
        var result = new Tensor?[_layers.Count];
        long offset = 0;
        for (int l = 0; l < _layers.Count; l++)
        {
            long c = _backbone.Channels(_layers[l]), start = offset;
            long[] local = indices.Where(i => i >= start && i < start + c).Select(i => i - start).ToArray();
            result[l] = local.Length == 0 ? null : tensor(local).DetachFromDisposeScope();
            offset += c;
        }
        return result;
    }

    /// <summary>
    /// The embedding [B,n_features,P] of images: the selected channels of all layers on the finest grid. Channels
    /// are selected per layer before upsampling, so the full concatenation is never built.
    /// </summary>
    Tensor Embed(Tensor images, out long h, out long w)
    {
        using var scope = NewDisposeScope();
        var features = _backbone.Extract(images, _layers);
        long gh = h = features[0].shape[2], gw = w = features[0].shape[3];
        var parts = new List<Tensor>();
        for (int l = 0; l < features.Length; l++)
        {
            if (_perLayer[l] is not { } local) continue;
            var chosen = features[l].index_select(1, local);
            parts.Add(chosen.shape[2] == gh ? chosen : nn.functional.interpolate(chosen, new long[] { gh, gw },
                mode: InterpolationMode.Nearest));
        }
        var embedding = cat(parts, 1);
        return embedding.flatten(2).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public void Fit(FitData data, IProgressReporter progress) => Accumulate(data, progress, "fit padim");

    void Accumulate(FitData data, IProgressReporter progress, string stage)
    {
        using var step = progress.Start(stage, data.Count);
        foreach (var batch in data.Batches())
        {
            StageTimings.Part("waiting for images"); // decoded ahead on other threads; this is only the wait
            using (batch)
            using (var scope = NewDisposeScope())
            {
                var embedding = Embed(batch.Images, out long h, out long w);
                StageTimings.Part("backbone");
                if (_gaussian.Count == 0) CheckGraphSize(h * w, batch.Images.shape[2]);
                _gaussian.Update(embedding);
                StageTimings.Part("gaussian update");
            }
            step.Advance(batch.Samples.Count);
        }
        _gaussian.Finish(_epsilon, _updatable);
        StageTimings.Part("finish");
    }

    /// <inheritdoc />
    public string UpdateMode => "exact merge of the running sums";

    /// <inheritdoc />
    public string? UpdateRefusal => _gaussian.Sums != null ? null
        : "this padim model file keeps no running sums to merge new images into (it was trained with model.updatable: false, or "
            + "before update existed); train it again";

    /// <summary>Exact: continues the running sums from the kept ones, so the result equals one fit on the old and new images
    /// together.</summary>
    public void Update(FitData data, IProgressReporter progress)
    {
        if (UpdateRefusal is { } refusal) throw new AnomalySharpException(refusal);
        _gaussian.Resume();
        Accumulate(data, progress, "update padim");
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Tensor> GetUpdateState()
    {
        if (_gaussian.Sums is not var (count, mean, scatter)) return new Dictionary<string, Tensor>();
        _countState?.Dispose();
        _countState = tensor(new[] { count }).DetachFromDisposeScope(); // owned here, like the rest of the state
        return new Dictionary<string, Tensor> { ["count"] = _countState, ["mean"] = mean, ["scatter_upper"] = scatter };
    }

    /// <inheritdoc />
    public void LoadUpdateState(IReadOnlyDictionary<string, Tensor> state)
    {
        if (state.Count == 0) return;
        if (!state.TryGetValue("count", out var count) || !state.TryGetValue("mean",
            out var mean) || !state.TryGetValue("scatter_upper", out var scatter))
            throw new AnomalySharpException("padim update state: count, mean and scatter_upper are needed");
        _gaussian.LoadSums(count, mean, scatter);
    }

    /// <summary>
    /// Refuses, before the first image is folded in, a fit whose Gaussians could not be written as one ONNX file
    /// (untiled 2048 px: 262,144 positions × 5,050 packed floats = 5.3 GB), instead of failing after the whole fit.
    /// </summary>
    void CheckGraphSize(long positions, long imageSize)
    {
        long bytes = positions * (MultivariateGaussian.PackedLength(_nFeatures) + _nFeatures) * sizeof(float);
        if (bytes > OnnxGraph.MaxConstantBytes)
            throw new AnomalySharpException(
                $"config key 'data.image_size': padim on {imageSize} px images keeps {positions} Gaussians of {_nFeatures} features, "
                + $"{bytes / 1e9:F1} GB, over ONNX's 2 GB for one file; use data.tiling (e.g. tile_size 256), a smaller "
                + "data.image_size or fewer model.n_features");
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Tensor> GetState() => new Dictionary<string, Tensor>
    {
        ["selected_channels"] = _selected,
        ["mean"] = _gaussian.Mean ?? throw new InvalidOperationException("padim is not fitted"),
        ["inverse_covariance_upper"] = _gaussian.PackedInverseCovariance!,
    };

    /// <inheritdoc />
    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        _selected.Dispose();
        _selected = state["selected_channels"].DetachFromDisposeScope();
        foreach (var t in _perLayer) t?.Dispose();
        _perLayer = SplitByLayer(_selected);
        // Packages saved before the triangles were packed hold the full matrices under the old name.
        _gaussian.Load(state["mean"], state.TryGetValue("inverse_covariance_upper", out var packed) ? packed : state["inverse_covariance"]);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _gaussian.Dispose();
        _countState?.Dispose();
        _selected.Dispose();
        foreach (var t in _perLayer) t?.Dispose();
    }
}
