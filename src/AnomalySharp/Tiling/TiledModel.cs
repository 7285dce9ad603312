using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Graphs;
using AnomalySharp.Models;
using AnomalySharp.Runtime;
using AnomalySharp.Training;
using static TorchSharp.torch;

namespace AnomalySharp.Tiling;

/// <summary>
/// Any model made to work on large images (data.tiling): it learns from the tiles of the training images, and its
/// inference graph cuts each working-size image into tiles, runs the model on all of them as one batch, and stitches
/// the tile maps back into a map of the working size, blending overlaps (<see cref="TileGrid.AxisWeights"/>). The image
/// score is the stitched map's maximum for a model whose score is its map's maximum, otherwise the highest tile score.
/// Everything stays in the one graph, so the export takes [N,3,H,W] and gives [N,1,H,W] like any other model.
/// </summary>
internal class TiledModel : IAnomalyModel, IUpdatableModel, IRectangularModel
{
    /// <summary>Tiles per inference run when the inner model sets no limit: bounds the backbone's activations.</summary>
    protected const int DefaultMaxTiles = 64;

    /// <summary>The model that sees the tiles (built for data.image_size = the tile size).</summary>
    public IAnomalyModel Inner { get; }
    /// <summary>Where the tiles lie.</summary>
    public TileGrid Grid { get; }

    /// <summary>Wraps a model; prefer <see cref="Wrap"/>, which keeps a trained model trainable.</summary>
    protected TiledModel(IAnomalyModel inner, TileGrid grid)
    {
        Inner = inner; Grid = grid;
    }

    /// <summary>The tiled form of <paramref name="inner"/>: a <see cref="TiledTrainableModel"/> when it trains a network.</summary>
    public static TiledModel Wrap(IAnomalyModel inner, TileGrid grid) =>
        inner is ITrainableModel ? new TiledTrainableModel(inner, grid) : new TiledModel(inner, grid);

    /// <inheritdoc />
    public string Name => Inner.Name;

    /// <inheritdoc />
    public bool ScoreIsMapMax => true;

    /// <inheritdoc />
    public virtual void Fit(FitData data, IProgressReporter progress) => Inner.Fit(Tiles(data, progress), progress);

    /// <summary>The training images as the tiles the inner model learns from (the trainer of a trained model uses it too).</summary>
    internal FitData Tiles(FitData data, IProgressReporter progress)
    {
        progress.Message($"tiling: {Grid}");
        return TiledFitData.Of(data, Grid);
    }

    /// <inheritdoc />
    public virtual int OnnxMaxBatch => Math.Max(1, (Inner.OnnxMaxBatch > 0 ? Inner.OnnxMaxBatch : DefaultMaxTiles) / Grid.Count);

    /// <inheritdoc />
    public (string Maps, string Scores) AppendOnnx(OnnxGraph g, string images, int imageSize)
    {
        if (imageSize != Grid.ImageHeight || imageSize != Grid.ImageWidth)
            throw new ArgumentException($"the tiled model works at {Grid.ImageHeight}x{Grid.ImageWidth} px, not {imageSize}",
                nameof(imageSize));
        return AppendTiled(g, images);
    }

    /// <inheritdoc />
    public (string Maps, string Scores) AppendRectangular(OnnxGraph graph, string images, int height, int width)
    {
        if (height != Grid.ImageHeight || width != Grid.ImageWidth)
            throw new ArgumentException($"the tiled model works at {Grid.ImageHeight}x{Grid.ImageWidth} px, not {height}x{width}",
                nameof(height));
        return AppendTiled(graph, images);
    }

    /// <summary>
    /// Appends the tiled inference for images [N,3,H,W] of the grid's working size (square or not): the raw maps
    /// [N,1,H,W] and scores [N].
    /// </summary>
    public (string Maps, string Scores) AppendTiled(OnnxGraph g, string images)
    {
        int t = Grid.TileSize, k = Grid.Count, h = Grid.ImageHeight, w = Grid.ImageWidth;
        var positions = Grid.Positions.ToArray();
        // Tiles of every image, tile by tile: [K·N,3,T,T] with tile k of image n at k·N + n.
        var tiles = positions.Select(p => g.Node("Slice", new[] { images, g.Ints(p.Y, p.X), g.Ints(p.Y + t, p.X + t), g.Ints(2,
            3) })).ToArray();
        var (maps, scores) = AppendTileModels(g, tiles);

        string perTile = g.Node("Reshape", new[] { maps, g.Ints(k, -1, t, t) });                                   // [K,N,T,T]
        if (Grid.Overlaps)
        {
            var weights = Grid.AxisWeights();
            perTile = g.Node("Mul", new[] { g.Node("Mul", new[] { perTile, g.Constant("tile_weight_rows", weights, 1, 1, t, 1) }),
                g.Constant("tile_weight_columns", weights, 1, 1, 1, t) });
        }
        string? sum = null;
        for (int i = 0; i < k; i++)
        {
            var (y, x) = positions[i];
            string tile = g.Node("Slice", new[] { perTile, g.Ints(i), g.Ints(i + 1), g.Ints(0) });                   // [1,N,T,T]
            string placed = t == h && t == w ? tile
                : g.Node("Pad", new[] { tile, g.Ints(0, 0, y, x, 0, 0, h - y - t, w - x - t) });                   // [1,N,H,W]
            sum = sum is null ? placed : g.Node("Add", new[] { sum, placed });
        }
        if (Grid.Overlaps)
        {
            sum = g.Node("Mul", new[] { g.Node("Mul", new[] { sum!, g.Constant("tile_coverage_rows", Grid.RowInverseCoverage(), 1, 1, h,
                1) }),
                g.Constant("tile_coverage_columns", Grid.ColumnInverseCoverage(), 1, 1, 1, w) });
        }
        string stitched = g.Node("Transpose", new[] { sum! }, OnnxGraph.Attrs("perm", 1L, 0L, 2L, 3L));               // [N,1,H,W]
        string imageScores = Inner.ScoreIsMapMax ? g.ReduceMax(stitched, 1, 2, 3)
            : g.ReduceMax(g.Node("Reshape", new[] { scores, g.Ints(k, -1) }), 0);                                     // [N]
        return (stitched, imageScores);
    }

    /// <summary>
    /// Appends the model(s) that score the tiles, given each position's tiles [N,3,T,T] in grid order: the tile maps
    /// [K·N,1,T,T] and scores [K·N], position by position (tile k of image n at k·N + n). Here: the one inner model on
    /// all tiles as one batch.
    /// </summary>
    protected virtual (string Maps, string Scores) AppendTileModels(OnnxGraph g, string[] tiles)
    {
        string batch = tiles.Length == 1 ? tiles[0] : g.Node("Concat", tiles, OnnxGraph.Attr("axis", 0L));
        return Inner.AppendOnnx(g, batch, Grid.TileSize);
    }

    /// <inheritdoc />
    public string UpdateMode => Inner is IUpdatableModel u ? u.UpdateMode + ", tile by tile" : "";

    /// <inheritdoc />
    public virtual string? UpdateRefusal => Inner is IUpdatableModel u ? u.UpdateRefusal : $"{Inner.Name} cannot fold new images in";

    /// <summary>Updates the model that sees the tiles with the new images' tiles.</summary>
    public virtual void Update(FitData data, IProgressReporter progress)
    {
        if (UpdateRefusal is { } refusal) throw new AnomalySharpException(refusal);
        ((IUpdatableModel)Inner).Update(Tiles(data, progress), progress);
    }

    /// <inheritdoc />
    public virtual IReadOnlyDictionary<string,
        Tensor> GetUpdateState() => Inner is IUpdatableModel u ? u.GetUpdateState() : new Dictionary<string, Tensor>();

    /// <inheritdoc />
    public virtual void LoadUpdateState(IReadOnlyDictionary<string, Tensor> state) => (Inner as IUpdatableModel)?.LoadUpdateState(state);

    /// <inheritdoc />
    public virtual IReadOnlyDictionary<string, Tensor> GetState() => Inner.GetState();

    /// <inheritdoc />
    public virtual void LoadState(IReadOnlyDictionary<string, Tensor> state) => Inner.LoadState(state);

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Disposes the model(s) inside.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing) Inner.Dispose();
    }
}
