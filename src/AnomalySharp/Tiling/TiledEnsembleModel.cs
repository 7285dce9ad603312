using System.Globalization;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Inference;
using AnomalySharp.Models;
using AnomalySharp.Runtime;
using static TorchSharp.torch;

namespace AnomalySharp.Tiling;

/// <summary>
/// A tiled ensemble (data.tiling.ensemble): one model per tile position, each fitted on that position's tiles of every
/// training image, as anomalib's tiled ensemble does for aligned objects, where a position always shows the same part.
/// Each position's maps and scores are standardized by the mean and spread of its own maps over its training tiles
/// (per-position normalization), so positions whose normal parts score higher by nature do not dominate; then the
/// tiles are stitched and blended as in <see cref="TiledModel"/>, and one threshold covers the whole image. The whole
/// ensemble is one graph: every member's graph on its tile, the standardization constants, the stitching.
/// </summary>
internal sealed class TiledEnsembleModel : TiledModel
{
    readonly IAnomalyModel[] _members;
    float[] _mean, _scale;

    /// <summary>One unfitted model per position of <paramref name="grid"/>, in grid order (row by row).</summary>
    internal TiledEnsembleModel(IReadOnlyList<IAnomalyModel> members, TileGrid grid) : base(members[0], grid)
    {
        if (members.Count != grid.Count) throw new ArgumentException("one model per tile position is needed");
        _members = members.ToArray();
        _mean = new float[grid.Count];
        _scale = Enumerable.Repeat(1f, grid.Count).ToArray();
    }

    /// <summary>The models, one per tile position in grid order.</summary>
    public IReadOnlyList<IAnomalyModel> Members => _members;

    /// <summary>Each position's standardization: (raw − mean) · scale, scale = 1 / standard deviation of its training maps.</summary>
    public IReadOnlyList<(float Mean, float Scale)> Standardization => _mean.Zip(_scale).ToList();

    /// <summary>True when the members train a network (STFPM, FastFlow, Reverse Distillation): the engine trains them position by position
    /// with checkpoints.</summary>
    public bool Trains => _members[0] is Training.ITrainableModel;

    /// <summary>
    /// Fits every position's model on its tiles, then standardizes it. Trained networks train here without checkpoints;
    /// `train` trains them through the engine instead (checkpoints per position, resumable).
    /// </summary>
    public override void Fit(FitData data, IProgressReporter progress)
    {
        var positions = Grid.Positions.ToArray();
        progress.Message($"tiled ensemble: {_members.Length} models, one per tile position ({Grid})");
        for (int k = 0; k < _members.Length; k++)
        {
            var (y, x) = positions[k];
            progress.Message($"tile position {k + 1}/{_members.Length} (y {y}, x {x})");
            var tiles = TiledFitData.AtPosition(data, Grid, k);
            _members[k].Fit(tiles, progress);
            Fitted(k, tiles);
        }
    }

    /// <summary>
    /// An ensemble is not updated: each position is standardized by the spread of its own training maps, which would
    /// have to be measured again on the old images as well.
    /// </summary>
    public override string? UpdateRefusal =>
        "a tiled ensemble (data.tiling.ensemble) cannot fold new images in: each position is standardized by its old training tiles; "
            + "train it again on all the images";

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, Tensor> GetUpdateState() => new Dictionary<string, Tensor>();

    /// <inheritdoc />
    public override void LoadUpdateState(IReadOnlyDictionary<string, Tensor> state) { }

    /// <summary>
    /// After position <paramref name="k"/>'s model has learned from <paramref name="tiles"/> (its own tiles): the size check
    /// (after the first) and its standardization by its own training maps.
    /// </summary>
    internal void Fitted(int k, FitData tiles)
    {
        if (k == 0) CheckGraphSize();
        (_mean[k], _scale[k]) = Standardize(_members[k], tiles);
    }

    /// <summary>
    /// Refuses an ensemble whose graph would pass ONNX's 2 GB limit, judged from the first model's state before the
    /// others are fitted (PaDiM's covariances grow with the tile's patch count: 83 MB of packed triangles per position at 256 px).
    /// </summary>
    void CheckGraphSize()
    {
        long bytes = _members[0].GetState().Values.Sum(t => t.NumberOfElements * t.ElementSize);
        long total = bytes * _members.Length;
        if (total > OnnxGraph.MaxConstantBytes)
            throw new AnomalySharpException(
                $"config key 'data.tiling.ensemble': {_members.Length} models of {bytes / 1e6:F0} MB each would make a "
                + $"{total / 1e9:F1} GB graph, over ONNX's 2 GB for one file; use fewer tile positions (a larger "
                + "data.tiling.tile_size or stride, a smaller data.image_size) or one shared model (ensemble: false)");
    }

    /// <summary>The mean and 1/standard deviation of <paramref name="member"/>'s raw map pixels over its own training tiles, through its
    /// inference graph.</summary>
    (float Mean, float Scale) Standardize(IAnomalyModel member, FitData tiles)
    {
        double sum = 0, squares = 0;
        long count = 0;
        using (var graph = new InferenceGraph(member, Grid.TileSize, Grid.TileSize, get_num_threads()))
            foreach (var batch in tiles.Batches())
                using (batch)
                using (NewDisposeScope())
                {
                    var (maps, _) = graph.Run(batch.Images);
                    var m = maps.to_type(ScalarType.Float64);
                    sum += m.sum().item<double>();
                    squares += m.square().sum().item<double>();
                    count += m.numel();
                }
        Runtime.NativeHeap.ReleaseIfLarge();
        double mean = sum / count, sd = Math.Sqrt(Math.Max(0, squares / count - mean * mean));
        return ((float)mean, sd > 1e-12 ? (float)(1 / sd) : 1f);
    }

    /// <inheritdoc />
    public override int OnnxMaxBatch => Inner.OnnxMaxBatch > 0 ? Inner.OnnxMaxBatch : DefaultMaxTiles; // each model runs N tiles, not K·N

    /// <inheritdoc />
    protected override (string Maps, string Scores) AppendTileModels(OnnxGraph g, string[] tiles)
    {
        var maps = new string[tiles.Length];
        var scores = new string[tiles.Length];
        for (int k = 0; k < tiles.Length; k++)
        {
            var (map, score) = _members[k].AppendOnnx(g, tiles[k], Grid.TileSize);
            string mean = g.Scalar(_mean[k]), scale = g.Scalar(_scale[k]);
            maps[k] = g.Node("Mul", new[] { g.Node("Sub", new[] { map, mean }), scale });
            scores[k] = g.Node("Mul", new[] { g.Node("Sub", new[] { score, mean }), scale });
        }
        return tiles.Length == 1 ? (maps[0], scores[0])
            : (g.Node("Concat", maps, OnnxGraph.Attr("axis", 0L)), g.Node("Concat", scores, OnnxGraph.Attr("axis", 0L)));
    }

    static string Prefix(int k) => "position" + k.ToString(CultureInfo.InvariantCulture) + ".";

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, Tensor> GetState()
    {
        var state = new Dictionary<string, Tensor>
        {
            ["ensemble.mean"] = tensor(_mean),
            ["ensemble.scale"] = tensor(_scale),
        };
        for (int k = 0; k < _members.Length; k++)
            foreach (var (name, t) in _members[k].GetState()) state[Prefix(k) + name] = t;
        return state;
    }

    /// <inheritdoc />
    public override void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        if (!state.TryGetValue("ensemble.mean", out var mean) || !state.TryGetValue("ensemble.scale",
            out var scale) || mean.numel() != _members.Length)
            throw new AnomalySharpException($"the model file is not a tiled ensemble of {_members.Length} positions");
        _mean = mean.to_type(ScalarType.Float32).data<float>().ToArray();
        _scale = scale.to_type(ScalarType.Float32).data<float>().ToArray();
        mean.Dispose(); scale.Dispose();
        for (int k = 0; k < _members.Length; k++)
        {
            string prefix = Prefix(k);
            _members[k].LoadState(state.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value));
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) foreach (var m in _members) m.Dispose();
    }
}
