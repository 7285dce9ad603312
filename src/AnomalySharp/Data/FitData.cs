namespace AnomalySharp.Data;

/// <summary>Training images for a model's fit (Models.IAnomalyModel.Fit): a fresh pass over the batches on each call.</summary>
/// <param name="Count">Number of images in one pass.</param>
/// <param name="Batches">Starts one pass; every batch must be disposed by the consumer.</param>
public sealed record FitData(int Count, Func<IEnumerable<ImageBatch>> Batches)
{
    /// <summary>Images per batch of a pass.</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>
    /// Starts a pass over the images at the given indices, in that order (trained models shuffle each epoch with it);
    /// null when the source can only be read in its own order.
    /// </summary>
    public Func<IReadOnlyList<int>, IEnumerable<ImageBatch>>? Ordered { get; init; }

    /// <summary>
    /// The sample behind each index, when known: lets a consumer of <see cref="Ordered"/> tell which requested images
    /// a batch lacks (unreadable ones skipped with data.skip_bad_images).
    /// </summary>
    public IReadOnlyList<AnomalySample>? Samples { get; init; }
}
