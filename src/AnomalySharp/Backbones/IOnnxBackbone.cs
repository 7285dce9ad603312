using AnomalySharp.Runtime;

namespace AnomalySharp.Backbones;

/// <summary>A feature extractor that can write itself into an exported ONNX graph.</summary>
public interface IOnnxBackbone
{
    /// <summary>
    /// Appends the network, from RGB 0..1 images <paramref name="images"/> [N,3,H,W] (its own preprocessing
    /// included), and returns the value names of the requested layers' features, in the order asked.
    /// </summary>
    string[] AppendOnnx(OnnxGraph graph, string images, IReadOnlyList<string> layers);
}
