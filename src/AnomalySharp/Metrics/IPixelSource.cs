using static TorchSharp.torch;

namespace AnomalySharp.Metrics;

/// <summary>
/// The anomaly maps of an evaluation, with their masks, handed out a few images at a time and as often as asked, so the
/// pixel metrics never need every map in memory at once (a 100-image set at 2048² is 1.7 GB of maps alone).
/// </summary>
internal interface IPixelSource
{
    /// <summary>Whether <see cref="Rows"/> gives masks.</summary>
    bool HasMasks { get; }

    /// <summary>
    /// Every image's map [b,1,H,W] (float32) and, with <see cref="HasMasks"/>, its 0/1 mask of the same shape, in a fixed
    /// order, a few images per step; each step's tensors may be disposed by the source after the next step.
    /// </summary>
    IEnumerable<(Tensor Maps, Tensor? Masks)> Rows();
}
