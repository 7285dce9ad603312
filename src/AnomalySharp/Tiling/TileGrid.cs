using System.Globalization;
using AnomalySharp.Configuration;

namespace AnomalySharp.Tiling;

/// <summary>
/// Where the tiles of a working image lie (data.tiling): square tiles of <see cref="TileSize"/> every
/// <see cref="Stride"/> pixels along each axis, and one more flush with the far edge when the stride does not land
/// there, so every pixel is covered and no tile reaches past the image. Tiles are numbered row by row.
/// </summary>
internal sealed class TileGrid
{
    /// <summary>The largest number of tiles an image may be cut into.</summary>
    public const int MaxTiles = 1024;

    /// <summary>The working image's height (data.image_size).</summary>
    public int ImageHeight { get; }
    /// <summary>The working image's width.</summary>
    public int ImageWidth { get; }
    /// <summary>The side of a tile (data.tiling.tile_size): the size the model itself works at.</summary>
    public int TileSize { get; }
    /// <summary>The distance between neighbouring tiles (data.tiling.stride).</summary>
    public int Stride { get; }
    /// <summary>The tiles' top edges, ascending; the last is ImageHeight − TileSize.</summary>
    public IReadOnlyList<int> RowOffsets { get; }
    /// <summary>The tiles' left edges, ascending; the last is ImageWidth − TileSize.</summary>
    public IReadOnlyList<int> ColumnOffsets { get; }

    /// <summary>A grid over a square image.</summary>
    public TileGrid(int imageSize, int tileSize, int stride) : this(imageSize, imageSize, tileSize, stride) { }

    /// <summary>A grid; the values are checked as config keys (the message names the key).</summary>
    public TileGrid(int imageHeight, int imageWidth, int tileSize, int stride)
    {
        int shorter = Math.Min(imageHeight, imageWidth);
        if (tileSize < 32 || tileSize > shorter)
            throw new AnomalySharpException($"config key 'data.tiling.tile_size' must be between 32 and the shorter side of "
                + $"data.image_size ({shorter}), got {tileSize} (0 turns tiling off)");
        if (stride < 1 || stride > tileSize)
            throw new AnomalySharpException($"config key 'data.tiling.stride' must be between 1 and data.tiling.tile_size "
                + $"({tileSize}), got {stride}: a larger stride would leave pixels no tile sees");
        ImageHeight = imageHeight; ImageWidth = imageWidth; TileSize = tileSize; Stride = stride;
        RowOffsets = Offsets(imageHeight, tileSize, stride);
        ColumnOffsets = Offsets(imageWidth, tileSize, stride);
        if (Count > MaxTiles)
            throw new AnomalySharpException($"config key 'data.tiling.stride': {stride} cuts a "
                + $"{WorkingSize.Describe(imageHeight, imageWidth)}-pixel image into {Count} tiles of {tileSize}, more than "
                    + $"{MaxTiles}; use a larger stride or tile");
    }

    static List<int> Offsets(int side, int tile, int stride)
    {
        var offsets = new List<int>();
        for (int o = 0; o + tile <= side; o += stride) offsets.Add(o);
        if (offsets[^1] != side - tile) offsets.Add(side - tile);
        return offsets;
    }

    /// <summary>The grid of a configuration, or null when tiling is off (data.tiling missing, or tile_size 0).</summary>
    public static TileGrid? From(ConfigTree config)
    {
        int tile = WorkingSize.TileSize(config);
        if (tile == 0) return null;
        int stride = config.Has("data.tiling.stride") && config.GetStringOrNull("data.tiling.stride") is not null
            ? config.GetInt("data.tiling.stride", 0, WorkingSize.Max) : 0;
        var (height, width) = WorkingSize.Read(config);
        return new TileGrid(height, width, tile, stride == 0 ? tile : stride);
    }

    /// <summary>Whether data.tiling.ensemble asks for one model per tile position (refused without tiling).</summary>
    public static bool IsEnsemble(ConfigTree config)
    {
        if (!config.Has("data.tiling.ensemble") || !config.GetBool("data.tiling.ensemble")) return false;
        if (From(config) is null) throw new AnomalySharpException("config key 'data.tiling.ensemble': an ensemble needs tiles (set "
            + "data.tiling.tile_size)");
        return true;
    }

    /// <summary>The number of tiles per image.</summary>
    public int Count => RowOffsets.Count * ColumnOffsets.Count;

    /// <summary>True when neighbouring tiles share pixels (a stride under the tile size, or a last tile pulled back to the edge).</summary>
    public bool Overlaps => Overlapping(RowOffsets) || Overlapping(ColumnOffsets);

    bool Overlapping(IReadOnlyList<int> offsets) => offsets.Zip(offsets.Skip(1)).Any(p => p.Second - p.First < TileSize);

    /// <summary>The top-left corner of every tile, row by row.</summary>
    public IEnumerable<(int Y, int X)> Positions => RowOffsets.SelectMany(y => ColumnOffsets.Select(x => (y, x)));

    /// <summary>
    /// The blending weight of a tile's pixel along one axis: a tent, T/2 in the middle of the tile and falling to 1
    /// at its edges, so a tile's map fades out where the next one takes over and the stitched map has no step at a
    /// tile's border. 1 everywhere when tiles do not overlap.
    /// </summary>
    public float[] AxisWeights()
    {
        var w = new float[TileSize];
        for (int i = 0; i < TileSize; i++) w[i] = Overlaps ? Math.Min(i + 1, TileSize - i) : 1f;
        return w;
    }

    /// <summary>1 / (sum of the weights of the tiles covering each row); the 2-d sum is the product of rows' and columns'.</summary>
    public float[] RowInverseCoverage() => InverseCoverage(RowOffsets, ImageHeight);

    /// <summary>1 / (sum of the weights of the tiles covering each column).</summary>
    public float[] ColumnInverseCoverage() => InverseCoverage(ColumnOffsets, ImageWidth);

    float[] InverseCoverage(IReadOnlyList<int> offsets, int side)
    {
        var w = AxisWeights();
        var sum = new double[side];
        foreach (int o in offsets)
            for (int i = 0; i < TileSize; i++) sum[o + i] += w[i];
        return sum.Select(s => (float)(1.0 / s)).ToArray();
    }

    /// <summary>The configuration the model inside the tiler is built from: the same, with data.image_size the tile size.</summary>
    public ConfigTree InnerConfig(ConfigTree config)
    {
        var inner = config.Clone();
        inner.Set("data.image_size=" + TileSize.ToString(CultureInfo.InvariantCulture));
        return inner;
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"{Count} tiles of {TileSize} px (stride {Stride}) over {WorkingSize.Describe(ImageHeight, ImageWidth)} px";
}
