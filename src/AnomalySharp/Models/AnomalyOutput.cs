using static TorchSharp.torch;

namespace AnomalySharp.Models;

/// <summary>Raw (unnormalized) model output for a batch: anomaly maps [B,1,H,W] and image scores [B].</summary>
public sealed class AnomalyOutput : IDisposable
{
    /// <summary>Pixel anomaly maps at the input resolution, [B,1,H,W].</summary>
    public Tensor Maps { get; }
    /// <summary>Image scores, [B].</summary>
    public Tensor Scores { get; }

    /// <summary>Wraps the two tensors; the output owns them.</summary>
    public AnomalyOutput(Tensor maps, Tensor scores) { Maps = maps; Scores = scores; }

    /// <inheritdoc />
    public void Dispose() { Maps.Dispose(); Scores.Dispose(); }
}
