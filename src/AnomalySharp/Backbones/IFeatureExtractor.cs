using static TorchSharp.torch;

namespace AnomalySharp.Backbones;

/// <summary>Maps an image batch to named intermediate feature maps of a frozen network.</summary>
public interface IFeatureExtractor : IDisposable
{
    /// <summary>A name for reports and model files (e.g. "resnet18").</summary>
    string Name { get; }

    /// <summary>The layer names this extractor can return, shallow to deep.</summary>
    IReadOnlyList<string> LayerNames { get; }

    /// <summary>Channels of a layer.</summary>
    int Channels(string layer);

    /// <summary>Down-sampling factor of a layer relative to the input.</summary>
    int Stride(string layer);

    /// <summary>
    /// Features of the requested layers for images [B,3,H,W], RGB in 0..1. Runs without autograd; the caller
    /// owns the returned tensors.
    /// </summary>
    Tensor[] Extract(Tensor images, IReadOnlyList<string> layers);
}
