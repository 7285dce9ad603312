using AnomalySharp.Data;

namespace AnomalySharp.Models;

/// <summary>Training images for <see cref="IAnomalyModel.Fit"/>: a fresh pass over the batches on each call.</summary>
/// <param name="Count">Number of images in one pass.</param>
/// <param name="Batches">Starts one pass; every batch must be disposed by the consumer.</param>
public sealed record FitData(int Count, Func<IEnumerable<ImageBatch>> Batches);
