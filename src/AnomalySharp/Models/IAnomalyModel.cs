using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Runtime;
using static TorchSharp.torch;

namespace AnomalySharp.Models;

/// <summary>
/// An anomaly model: fitted on normal images only (with TorchSharp), it scores images through its one inference
/// graph (<see cref="AppendOnnx"/>), which ONNX Runtime runs everywhere: in `train`'s evaluation and validation,
/// `test`, `predict`, `serve` and the exported file. Everything after the raw maps and scores (thresholds,
/// normalization, metrics, pictures) is shared.
/// </summary>
public interface IAnomalyModel : IDisposable
{
    /// <summary>Registry name, e.g. "padim".</summary>
    string Name { get; }

    /// <summary>Learns from normal images.</summary>
    void Fit(FitData data, IProgressReporter progress);

    /// <summary>
    /// Appends the fitted model's inference, from RGB 0..1 images <paramref name="images"/> [N,3,S,S]
    /// (S = <paramref name="imageSize"/>), to <paramref name="graph"/>, and returns the value names of the raw
    /// (unnormalized) anomaly maps [N,1,S,S] and image scores [N]. Standard ONNX operators only.
    /// </summary>
    (string Maps, string Scores) AppendOnnx(OnnxGraph graph, string images, int imageSize);

    /// <summary>
    /// The largest batch the graph should run at once (0: no limit). Written to the metadata as
    /// anomalysharp.max_batch; the runtime splits larger batches, and the Triton config uses it as max_batch_size.
    /// </summary>
    int OnnxMaxBatch => 0;

    /// <summary>
    /// True when the image score is the maximum of the anomaly map. A tiled model (data.tiling) then scores an image by
    /// its stitched map's maximum; otherwise by the highest of its tiles' own scores.
    /// </summary>
    bool ScoreIsMapMax => false;

    /// <summary>The fitted state to save (names are stable across versions of the file format).</summary>
    IReadOnlyDictionary<string, Tensor> GetState();

    /// <summary>Restores a state written by <see cref="GetState"/>; the model takes ownership of the tensors.</summary>
    void LoadState(IReadOnlyDictionary<string, Tensor> state);
}
