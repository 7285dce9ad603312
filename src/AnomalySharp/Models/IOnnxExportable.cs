using AnomalySharp.Runtime;
using AnomalySharp.Export;

namespace AnomalySharp.Models;

/// <summary>A model that can write its fitted computation into an ONNX graph (see <see cref="OnnxExporter"/>).</summary>
public interface IOnnxExportable
{
    /// <summary>
    /// Appends the model from RGB 0..1 images <paramref name="images"/> [N,3,S,S] (S = <paramref name="imageSize"/>)
    /// and returns the value names of the raw (unnormalized) anomaly maps [N,1,S,S] and image scores [N], exactly as
    /// <see cref="IAnomalyModel.Predict"/> computes them.
    /// </summary>
    (string Maps, string Scores) AppendOnnx(OnnxGraph graph, string images, int imageSize);

    /// <summary>
    /// The largest batch the exported graph should run at once (0: no limit). Written to the metadata as
    /// anomalysharp.max_batch; the runtime splits larger batches, and the Triton config uses it as max_batch_size.
    /// </summary>
    int OnnxMaxBatch => 0;
}
