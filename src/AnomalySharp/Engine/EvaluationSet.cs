using AnomalySharp.Data;
using AnomalySharp.Metrics;
using static TorchSharp.torch;

namespace AnomalySharp.Engine;

/// <summary>
/// Raw predictions for a set of test images, with what is needed to score and draw them. Scores and labels are
/// tensors; maps, masks and the resized pictures are rows of <see cref="RowStore"/>s (in memory, or in temporary files
/// for large working sizes), read one image at a time by the metrics and the pictures.
/// </summary>
internal sealed class EvaluationSet : IDisposable, IPixelSource
{
    readonly RowStore _maps;
    readonly RowStore? _masks, _images;
    readonly IReadOnlyList<int> _rows;
    readonly bool _ownsStores;

    /// <summary>The samples, in tensor order.</summary>
    public IReadOnlyList<AnomalySample> Samples { get; }
    /// <summary>Raw image scores, float [N].</summary>
    public Tensor Scores { get; }
    /// <summary>Image labels, float 0/1 [N].</summary>
    public Tensor Labels { get; }

    /// <summary>Bundles the predictions of <paramref name="samples"/>, store rows 0..N−1; the set owns stores and tensors.</summary>
    public EvaluationSet(IReadOnlyList<AnomalySample> samples, Tensor scores, Tensor labels, RowStore maps, RowStore? masks,
        RowStore? images)
        : this(samples, scores, labels, maps, masks, images, Enumerable.Range(0, samples.Count).ToArray(), ownsStores: true) { }

    EvaluationSet(IReadOnlyList<AnomalySample> samples, Tensor scores, Tensor labels, RowStore maps, RowStore? masks, RowStore? images,
        IReadOnlyList<int> rows, bool ownsStores)
    {
        Samples = samples; Scores = scores; Labels = labels; _maps = maps; _masks = masks; _images = images; _rows = rows; _ownsStores
            = ownsStores;
    }

    /// <inheritdoc />
    public bool HasMasks => _masks is not null;

    /// <summary>Whether the resized pictures were kept (for the report's images).</summary>
    public bool HasImages => _images is not null;

    /// <summary>Image <paramref name="i"/>'s raw map, float [1,1,H,W]; the caller disposes it.</summary>
    public Tensor Map(int i) => _maps.Read(_rows[i]);

    /// <summary>Image <paramref name="i"/>'s mask, uint8 0/1 [1,1,H,W], or null without masks; the caller disposes it.</summary>
    public Tensor? Mask(int i) => _masks?.Read(_rows[i]);

    /// <summary>Image <paramref name="i"/>'s resized picture, uint8 [1,3,H,W], or null when none was kept; the caller disposes
    /// it.</summary>
    public Tensor? Image(int i) => _images?.Read(_rows[i]);

    /// <inheritdoc />
    public IEnumerable<(Tensor Maps, Tensor? Masks)> Rows()
    {
        for (int i = 0; i < Samples.Count; i++)
        {
            var map = Map(i);
            var mask = Mask(i);
            try { yield return (map, mask); }
            finally { map.Dispose(); mask?.Dispose(); }
        }
    }

    /// <summary>The images at <paramref name="indices"/>: scores and labels copied, maps, masks and pictures shared (the subset must not
    /// outlive this set).</summary>
    public EvaluationSet Subset(IReadOnlyList<int> indices)
    {
        using var idx = tensor(indices.Select(i => (long)i).ToArray());
        return new EvaluationSet(indices.Select(i => Samples[i]).ToList(), Scores.index_select(0, idx), Labels.index_select(0, idx),
            _maps, _masks, _images, indices.Select(i => _rows[i]).ToArray(), ownsStores: false);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Scores.Dispose(); Labels.Dispose();
        if (!_ownsStores) return;
        _maps.Dispose(); _masks?.Dispose(); _images?.Dispose();
    }
}
