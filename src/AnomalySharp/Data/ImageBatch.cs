using static TorchSharp.torch;

namespace AnomalySharp.Data;

/// <summary>A batch of decoded, resized images ([B,3,S,S], RGB 0..1) with their masks ([B,1,S,S]) when requested.</summary>
public sealed class ImageBatch : IDisposable
{
    /// <summary>The samples in batch order.</summary>
    public IReadOnlyList<AnomalySample> Samples { get; }
    /// <summary>Images, [B,3,S,S], RGB in 0..1.</summary>
    public Tensor Images { get; }
    /// <summary>Masks, [B,1,S,S] of 0/1 (zeros for normal images), or null when not loaded.</summary>
    public Tensor? Masks { get; }
    /// <summary>Original (width, height) of each image.</summary>
    public IReadOnlyList<(int Width, int Height)> OriginalSizes { get; }

    /// <summary>Creates a batch; it owns the tensors.</summary>
    public ImageBatch(IReadOnlyList<AnomalySample> samples, Tensor images, Tensor? masks, IReadOnlyList<(int, int)> sizes)
    {
        Samples = samples; Images = images; Masks = masks; OriginalSizes = sizes;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Images.Dispose();
        Masks?.Dispose();
    }
}
