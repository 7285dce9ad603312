using AnomalySharp.Data;
using static TorchSharp.torch;

namespace AnomalySharp.Tiling;

/// <summary>
/// The training images of a tiled model as tiles: every image yields <see cref="TileGrid.Count"/> tiles, numbered
/// image by image (image i's tile k is item i·K + k), in batches of the data's batch size. The model inside the
/// tiler learns from tiles exactly as it would learn from whole images of the tile size.
/// </summary>
internal static class TiledFitData
{
    /// <summary>The tiles of <paramref name="data"/>'s images.</summary>
    public static FitData Of(FitData data, TileGrid grid)
    {
        int k = grid.Count, batchSize = data.BatchSize;
        return new FitData(data.Count * k, () => Chunks(data.Batches(), grid, batchSize))
        {
            BatchSize = batchSize,
            Samples = data.Samples is not { } samples ? null : Enumerable.Range(0, data.Count * k).Select(t => samples[t / k]).ToList(),
            Ordered = data.Ordered is not { } ordered ? null : order => Selected(ordered, data.Samples, order, grid),
        };
    }

    /// <summary>The tiles at position <paramref name="position"/> (grid order) of <paramref name="data"/>'s images: one per image, batched
    /// as the images are.</summary>
    public static FitData AtPosition(FitData data, TileGrid grid, int position)
    {
        var (y, x) = grid.Positions.ElementAt(position);
        int t = grid.TileSize;
        IEnumerable<ImageBatch> Cut(IEnumerable<ImageBatch> batches)
        {
            foreach (var batch in batches)
            {
                Tensor tiles;
                using (batch)
                using (NewDisposeScope())
                    tiles = batch.Images.narrow(2, y, t).narrow(3, x, t).contiguous().MoveToOuterDisposeScope();
                yield return new ImageBatch(batch.Samples, tiles, null, batch.OriginalSizes);
            }
        }
        return new FitData(data.Count, () => Cut(data.Batches()))
        {
            BatchSize = data.BatchSize,
            Samples = data.Samples,
            Ordered = data.Ordered is not { } ordered ? null : order => Cut(ordered(order)),
        };
    }

    /// <summary>Every tile of every image, in batches of <paramref name="batchSize"/> tiles.</summary>
    static IEnumerable<ImageBatch> Chunks(IEnumerable<ImageBatch> batches, TileGrid grid, int batchSize)
    {
        foreach (var batch in batches)
        {
            ImageBatch tiles;
            using (batch) tiles = Cut(batch, grid);
            long n = tiles.Images.shape[0];
            if (n <= batchSize) { yield return tiles; continue; }
            using (tiles)
                for (int start = 0; start < n; start += batchSize)
                {
                    int count = (int)Math.Min(batchSize, n - start);
                    yield return new ImageBatch(tiles.Samples.Skip(start).Take(count).ToList(), tiles.Images.narrow(0, start,
                        count).clone(),
                        null, tiles.OriginalSizes.Skip(start).Take(count).ToList());
                }
        }
    }

    /// <summary>The tiles at <paramref name="order"/> (items i·K + k), read image by image in that order.</summary>
    static IEnumerable<ImageBatch> Selected(Func<IReadOnlyList<int>, IEnumerable<ImageBatch>> ordered,
        IReadOnlyList<AnomalySample>? samples,
        IReadOnlyList<int> order, TileGrid grid)
    {
        int k = grid.Count, at = 0;
        var positions = grid.Positions.ToArray();
        // One image read per tile: the source batches them as it batches images, so batch sizes and steps line up.
        foreach (var batch in ordered(order.Select(t => t / k).ToList()))
        {
            Tensor images;
            using (batch)
            using (var scope = NewDisposeScope())
            {
                var tiles = new Tensor[batch.Samples.Count];
                for (int i = 0; i < tiles.Length; i++)
                {
                    // An image the source skipped as unreadable takes its requested tiles with it.
                    while (samples is not null && !ReferenceEquals(samples[order[at] / k], batch.Samples[i])) at++;
                    var (y, x) = positions[order[at++] % k];
                    tiles[i] = batch.Images[i].narrow(1, y, grid.TileSize).narrow(2, x, grid.TileSize);
                }
                images = stack(tiles).MoveToOuterDisposeScope();
            }
            yield return new ImageBatch(batch.Samples, images, null, batch.OriginalSizes);
        }
    }

    /// <summary>Cuts a batch of working-size images [B,3,S,S] into its tiles [B·K,3,T,T], image by image.</summary>
    public static ImageBatch Cut(ImageBatch batch, TileGrid grid)
    {
        using var scope = NewDisposeScope();
        int t = grid.TileSize, k = grid.Count;
        var tiles = stack(grid.Positions.Select(p => batch.Images.narrow(2, p.Y, t).narrow(3, p.X, t)).ToArray(), dim: 1)  // [B,K,3,T,T]
            .reshape(-1, 3, t, t).MoveToOuterDisposeScope();
        return new ImageBatch(batch.Samples.SelectMany(s => Enumerable.Repeat(s, k)).ToList(), tiles, null,
            batch.OriginalSizes.SelectMany(s => Enumerable.Repeat(s, k)).ToList());
    }
}
