using static TorchSharp.torch;

namespace AnomalySharp.Metrics;

/// <summary>Maps and masks already held as tensors [N,1,H,W] (or [N,H,W]), as a <see cref="IPixelSource"/> of one image per step.</summary>
internal sealed class TensorPixels : IPixelSource
{
    readonly Tensor _maps;
    readonly Tensor? _masks;

    /// <summary>Wraps (does not own) <paramref name="maps"/> and <paramref name="masks"/>.</summary>
    public TensorPixels(Tensor maps, Tensor? masks)
    {
        if (maps.dim() < 3) throw new ArgumentException("maps must be [N,1,H,W] or [N,H,W]");
        if (masks is not null && !masks.shape.SequenceEqual(maps.shape)) throw new ArgumentException("maps and masks differ in shape");
        _maps = maps; _masks = masks;
    }

    /// <inheritdoc />
    public bool HasMasks => _masks is not null;

    /// <inheritdoc />
    public IEnumerable<(Tensor Maps, Tensor? Masks)> Rows()
    {
        for (long i = 0; i < _maps.shape[0]; i++)
        {
            var map = _maps.narrow(0, i, 1);
            var mask = _masks?.narrow(0, i, 1);
            try { yield return (map, mask); }
            finally { map.Dispose(); mask?.Dispose(); }
        }
    }
}
