using AnomalySharp.Packaging;
using AnomalySharp.Runtime;
using Google.Protobuf;

namespace AnomalySharp.Export;

/// <summary>A saved model's detector in the runtime, built from its export in memory.</summary>
public static class TrainedModelDetector
{
    /// <summary>
    /// The runtime's detector for <paramref name="trained"/>, built from its export in memory: the same graph, decode
    /// and resize as the file `anomalysharp export` writes, so it scores exactly as the deployed model does.
    /// </summary>
    public static OnnxAnomalyDetector CreateDetector(this TrainedModel trained, DetectorOptions? options = null)
    {
        var model = OnnxExporter.Build(trained);
        OnnxExporter.Seal(model);
        return new OnnxAnomalyDetector(model.ToByteArray(), $"{trained.Model.Name} model", options);
    }
}
