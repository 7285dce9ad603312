using AnomalySharp.Backbones;
using AnomalySharp.Components;
using AnomalySharp.Configuration;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using static TorchSharp.torch;

namespace AnomalySharp.Models.PatchCore;

/// <summary>
/// PatchCore (Roth et al. 2022): locally aware patch features (layers 2 and 3, 3×3 average pooling, layer 3
/// upsampled to layer 2's grid), a memory bank subsampled by greedy k-center on a random projection, the distance
/// to the nearest bank patch as the anomaly map (upsampled, blurred), and the paper's re-weighted image score.
/// Fit keeps patch features as float16 and the projection as int8, so the coreset sweep reads a quarter of the
/// bytes of float32. Prediction searches the bank through an inverted-file index (<see cref="BankIndex"/>, the
/// default) or exactly by blocked matrix products (<c>model.search: exact</c>).
/// </summary>
internal sealed partial class PatchCoreModel : IAnomalyModel, IUpdatableModel
{
    /// <summary>The model section of the default configuration.</summary>
    public const string DefaultsYaml = $$"""
        model:
          name: patchcore
          {{BackboneFactory.DefaultsYaml}}
          layers: [layer2, layer3]
          coreset_ratio: 0.1
          num_neighbors: 9
          projection_dim: 64
          blur_sigma: 4.0
          bank_dtype: float32
          max_fit_memory_gb: 0
          search: ivf
          search_lists: 64
          search_probes: 4
          search_dims: 64
          search_rerank: 2
          search_refine_patches: 16
          search_refine_probes: 16
        """;

    readonly IFeatureExtractor _backbone;
    readonly IReadOnlyList<string> _layers;
    readonly double _ratio;
    readonly int _numNeighbors;
    readonly int _projectionDim;
    readonly int _seed;
    readonly BankDtype _bankDtype;
    readonly double _maxFitMemoryGb;
    readonly int _imageSize;
    readonly GaussianBlur2d _blur;
    readonly PatchCoreSearch _search;
    readonly int _searchLists;
    readonly int _searchProbes;
    readonly int _searchDims;
    readonly int _searchRerank;
    readonly int _refinePatches;
    readonly int _refineProbes;
    Tensor? _bank;                 // [K,D]
    BankIndex? _index;             // with search: ivf

    /// <inheritdoc />
    public string Name => "patchcore";

    /// <summary>Builds an unfitted model from a configuration.</summary>
    public PatchCoreModel(ConfigTree config)
    {
        (_backbone, _layers) = BackboneFactory.FromConfig(config);
        _ratio = config.GetDouble("model.coreset_ratio", 1e-6, 1.0);
        _numNeighbors = config.GetInt("model.num_neighbors", 1, 1000);
        _projectionDim = config.GetInt("model.projection_dim", 8, 4096);
        _bankDtype = config.GetEnum<BankDtype>("model.bank_dtype");
        _maxFitMemoryGb = config.GetDouble("model.max_fit_memory_gb", 0, 1e6);
        _seed = config.GetInt("seed");
        _imageSize = config.GetInt("data.image_size");
        _blur = new GaussianBlur2d(config.GetDouble("model.blur_sigma", 0.01, 100));
        // Model files written before 0.3 have no search keys: they keep the exact search they were evaluated with.
        _search = config.Has("model.search") ? config.GetEnum<PatchCoreSearch>("model.search") : PatchCoreSearch.Exact;
        if (_search == PatchCoreSearch.Exact && !config.Has("model.search_lists")) return;
        _searchLists = config.GetInt("model.search_lists", 1, 65536);
        _searchProbes = config.GetInt("model.search_probes", 1, 65536);
        _searchDims = config.GetInt("model.search_dims", 0, 65536);
        _searchRerank = config.GetInt("model.search_rerank", 1, 1024);
        _refinePatches = config.GetInt("model.search_refine_patches", 0, 1 << 20);
        _refineProbes = config.GetInt("model.search_refine_probes", 1, 65536);
        if (_searchProbes > _searchLists)
            throw new AnomalySharpException($"model.search_probes ({_searchProbes}) must not exceed model.search_lists ({_searchLists})");
    }

    int FeatureDim => _layers.Sum(_backbone.Channels);
    int GridSize => _imageSize / _layers.Min(_backbone.Stride);

    /// <summary>Locally aware patch features [B,D,h,w] (<see cref="LocalPatchFeatures"/>).</summary>
    Tensor Embed(Tensor images)
    {
        using var scope = NewDisposeScope();
        return LocalPatchFeatures.Of(_backbone.Extract(images, _layers)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public void Fit(FitData data, IProgressReporter progress)
    {
        CheckFitMemory(data.Count);
        using var projection = new RandomProjection(FeatureDim, _projectionDim, _seed);
        var (featureChunks, projectedChunks) = Features(data, projection, progress);
        StageTimings.Part("features");
        int count = CoresetSize(featureChunks.Sum(c => c.shape[0]), progress);
        // Quantized chunk by chunk, each freed once copied (joining them first held them twice at fit's peak: 400 MB more).
        var quantized = Quantize(projectedChunks, KCenterGreedy.QuantizeScale(projectedChunks));
        MemoryMonitor.Stage("fit: quantized projections");
        StageTimings.Part("quantize");
        int[] chosen = KCenterGreedy.Select(quantized, _projectionDim, count, _seed, progress);
        MemoryMonitor.Stage("fit: coreset");
        StageTimings.Part("coreset");
        using (var rows = Rows(featureChunks, chosen))
            SetBank(rows.to_type(BankType));
        BuildIndex(progress);
        StageTimings.Part("bank and index");
    }

    /// <inheritdoc />
    public string UpdateMode => "new patches joined the bank by k-center greedy; search index rebuilt";

    /// <summary>PatchCore's bank grows: the new images' patches join it through the same k-center selection, continued from the bank's
    /// patches as the centres already chosen, and the search index is rebuilt.</summary>
    public string? UpdateRefusal => _bank is null ? "patchcore is not fitted" : null;

    /// <summary>
    /// Adds coreset_ratio of the new images' patches to the bank, chosen by greedy k-center continued from the bank (each
    /// new patch starts at its distance to the nearest bank patch, so a patch like those already kept is not taken
    /// again), then rebuilds the search index over the whole bank.
    /// </summary>
    public void Update(FitData data, IProgressReporter progress)
    {
        if (UpdateRefusal is { } refusal) throw new AnomalySharpException(refusal);
        CheckFitMemory(data.Count);
        using var projection = new RandomProjection(FeatureDim, _projectionDim, _seed);
        var (featureChunks, projectedChunks) = Features(data, projection, progress);
        int count = CoresetSize(featureChunks.Sum(c => c.shape[0]), progress);
        Tensor bankProjected;
        using (var scope = NewDisposeScope())
            bankProjected = projection.Project(_bank!.to_type(ScalarType.Float32)).MoveToOuterDisposeScope();
        float scale = KCenterGreedy.QuantizeScale(projectedChunks.Append(bankProjected));
        var centers = Quantize(new List<Tensor> { bankProjected }, scale); // frees bankProjected
        var quantized = Quantize(projectedChunks, scale);
        int[] chosen = KCenterGreedy.SelectAfter(quantized, centers, _projectionDim, count, progress);
        using (var scope = NewDisposeScope())
            SetBank(cat(new[] { _bank!, Rows(featureChunks, chosen).to_type(BankType) }, 0));
        progress.Message($"patchcore: the bank grew by {count} patches to {_bank!.shape[0]}");
        BuildIndex(progress);
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Tensor> GetUpdateState() => new Dictionary<string, Tensor>();

    /// <inheritdoc />
    public void LoadUpdateState(IReadOnlyDictionary<string, Tensor> state) { }

    ScalarType BankType => _bankDtype == BankDtype.Float16 ? ScalarType.Float16 : ScalarType.Float32;

    /// <summary>Every patch's features (float16) and their random projections, chunk by chunk (one chunk per batch).</summary>
    (List<Tensor> Features, List<Tensor> Projected) Features(FitData data, RandomProjection projection, IProgressReporter progress)
    {
        var featureChunks = new List<Tensor>();
        var projectedChunks = new List<Tensor>();
        using (var step = progress.Start("patchcore features", data.Count))
            foreach (var batch in data.Batches())
            {
                using (batch)
                using (var scope = NewDisposeScope())
                {
                    var rows = Embed(batch.Images).permute(0, 2, 3, 1).reshape(-1, FeatureDim);
                    featureChunks.Add(rows.to_type(ScalarType.Float16).DetachFromDisposeScope());
                    projectedChunks.Add(projection.Project(rows).DetachFromDisposeScope());
                }
                step.Advance(batch.Samples.Count);
            }
        MemoryMonitor.Stage("fit: patch features");
        return (featureChunks, projectedChunks);
    }

    int CoresetSize(long patches, IProgressReporter progress)
    {
        int count = (int)Math.Floor(patches * _ratio);
        if (count >= 1) return count;
        progress.Message($"warning: patchcore: coreset_ratio {_ratio} of {patches} patches is less than one patch; keeping 1");
        return 1;
    }

    /// <summary>Quantizes the chunks into one int8 array with <paramref name="scale"/>, freeing each chunk once copied.</summary>
    static sbyte[] Quantize(List<Tensor> chunks, float scale)
    {
        var quantized = new sbyte[chunks.Sum(c => c.numel())];
        long offset = 0;
        foreach (var c in chunks)
        {
            KCenterGreedy.QuantizeInto(c, scale, quantized.AsSpan(checked((int)offset), checked((int)c.numel())));
            offset += c.numel();
            c.Dispose();
        }
        // The float32 projections (chunks under glibc's mmap threshold, so on its heap) go back before the long k-center:
        // kept, they were a quarter of fit's plateau (220 MB of 2.2 GB for 856 k patches at 512 px).
        Runtime.NativeHeap.Release();
        return quantized;
    }

    /// <summary>
    /// The chosen rows, chunk by chunk, each chunk freed once read, so no second copy of every patch is made; the patch
    /// features' pages go back to the system before the index's k-means allocates elsewhere (without that, the index build
    /// added 630 MB on top of them and was fit's peak, 2.5 GB).
    /// </summary>
    static Tensor Rows(List<Tensor> featureChunks, int[] chosen)
    {
        chosen = chosen.Order().ToArray();
        var selected = new List<Tensor>();
        long chunkStart = 0;
        int next = 0;
        foreach (var chunk in featureChunks)
        {
            long end = chunkStart + chunk.shape[0];
            int first = next;
            while (next < chosen.Length && chosen[next] < end) next++;
            if (next > first)
                using (var idx = tensor(chosen[first..next].Select(i => i - chunkStart).ToArray()))
                    selected.Add(chunk.index_select(0, idx));
            chunk.Dispose();
            chunkStart = end;
        }
        var rows = cat(selected, 0);
        foreach (var t in selected) t.Dispose();
        Runtime.NativeHeap.Release();
        MemoryMonitor.Stage("fit: bank");
        return rows;
    }

    void BuildIndex(IProgressReporter progress)
    {
        if (_search != PatchCoreSearch.Ivf) return;
        using var step = progress.Start("patchcore search index", 1);
        var (ordered, index) = BankIndex.Build(_bank!, _searchLists, _searchProbes, _numNeighbors, _seed, _searchDims);
        SetBank(ordered);
        _index?.Dispose();
        _index = index;
        step.Advance(1);
    }

    void SetBank(Tensor bank)
    {
        _bank?.Dispose();
        _bank = bank.contiguous().DetachFromDisposeScope();
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Tensor> GetState()
    {
        var state = new Dictionary<string,
            Tensor>
        { ["memory_bank"] = _bank ?? throw new InvalidOperationException("patchcore is not fitted") };
        if (_index is not null)
        {
            state["search_centroids"] = _index.Centroids;
            state["search_offsets"] = _index.Offsets;
            state["search_support"] = _index.Support;
            if (_index.Projection is { } projection)
            {
                state["search_mean"] = projection.Mean;
                state["search_basis"] = projection.Basis;
            }
        }
        return state;
    }

    /// <inheritdoc />
    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        SetBank(state["memory_bank"]);
        _index?.Dispose();
        _index = null;
        if (_search != PatchCoreSearch.Ivf) return;
        if (state.ContainsKey("search_centroids"))
            _index = BankIndex.FromState(_bank!, state["search_centroids"], state["search_offsets"], state["search_support"],
                state.GetValueOrDefault("search_mean"), state.GetValueOrDefault("search_basis"));
        // a bank saved without an index (model.search: exact) given model.search: ivf: index it now, as fit would
        else BuildIndex(NullProgress.Instance);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _bank?.Dispose();
        _index?.Dispose();
    }
}
