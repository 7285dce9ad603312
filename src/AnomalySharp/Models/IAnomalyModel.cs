using AnomalySharp.Diagnostics;
using static TorchSharp.torch;

namespace AnomalySharp.Models;

/// <summary>
/// An anomaly model: fitted on normal images only, it maps an image batch to pixel anomaly maps and image
/// scores. Everything after <see cref="Predict"/> (thresholds, normalization, metrics, pictures) is shared.
/// </summary>
public interface IAnomalyModel : IDisposable
{
    /// <summary>Registry name, e.g. "padim".</summary>
    string Name { get; }

    /// <summary>Learns from normal images.</summary>
    void Fit(FitData data, IProgressReporter progress);

    /// <summary>Raw anomaly maps and scores for images [B,3,S,S] (RGB, 0..1).</summary>
    AnomalyOutput Predict(Tensor images);

    /// <summary>The fitted state to save (names are stable across versions of the file format).</summary>
    IReadOnlyDictionary<string, Tensor> GetState();

    /// <summary>Restores a state written by <see cref="GetState"/>; the model takes ownership of the tensors.</summary>
    void LoadState(IReadOnlyDictionary<string, Tensor> state);
}
