using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using static TorchSharp.torch;

namespace AnomalySharp.Training;

/// <summary>
/// The frozen network's features (and the images, when the loss needs them) of every training image, computed in
/// one pass and kept as one preallocated tensor per output, so each epoch only gathers rows. Frozen features do not
/// change between epochs; recomputing them is most of an epoch's time for FastFlow and Reverse Distillation.
/// </summary>
internal sealed class FeatureCache : IDisposable
{
    readonly Tensor[] _features;
    readonly Tensor? _images;

    FeatureCache(Tensor[] features, Tensor? images,
        IReadOnlyList<AnomalySample> samples)
    { _features = features; _images = images; Samples = samples; }

    /// <summary>
    /// The sample behind each row: rows count only the images that could be read, so with an image skipped as
    /// unreadable row i is not the source's item i.
    /// </summary>
    public IReadOnlyList<AnomalySample> Samples { get; }

    /// <summary>Memory the cache holds, in MiB.</summary>
    public double Megabytes => (_features.Sum(f => f.NumberOfElements) + (_images?.NumberOfElements ?? 0)) * 4 / (1024.0 * 1024.0);

    /// <summary>Builds the cache, or returns null (with a message) when it would exceed <paramref name="maxGb"/>.</summary>
    public static FeatureCache? TryBuild(ITrainableModel model, FitData data, double maxGb, IProgressReporter progress)
    {
        Tensor[]? features = null;
        Tensor? images = null;
        long row = 0;
        var samples = new List<AnomalySample>();
        using var step = progress.Start("cache frozen features", data.Count);
        foreach (var batch in data.Batches())
        {
            using (batch)
            using (var scope = NewDisposeScope())
            {
                var f = model.FrozenFeatures(batch.Images);
                if (features is null)
                {
                    long perImage = f.Sum(t
                        => t.NumberOfElements / t.shape[0]) + (model.LossNeedsImages
                            ? batch.Images.NumberOfElements / batch.Images.shape[0] : 0);
                    double gb = perImage * 4.0 * data.Count / (1L << 30);
                    if (gb > maxGb)
                    {
                        progress.Message($"frozen features of {data.Count} images need {gb:0.0} GiB, over "
                            + $"training.cache_max_gb={maxGb}: recomputing them every epoch");
                        return null;
                    }
                    features = f.Select(t => empty(Shape(t, data.Count)).DetachFromDisposeScope()).ToArray();
                    if (model.LossNeedsImages) images = empty(Shape(batch.Images, data.Count)).DetachFromDisposeScope();
                }
                long n = batch.Images.shape[0];
                for (int i = 0; i < f.Length; i++) features[i].narrow(0, row, n).copy_(f[i]);
                images?.narrow(0, row, n).copy_(batch.Images);
                row += n;
                samples.AddRange(batch.Samples);
            }
            step.Advance(batch.Samples.Count);
        }
        if (features is null) throw new AnomalySharpException("no training image could be read");
        if (row != data.Count) // images skipped as unreadable: keep the rows that were filled
        {
            features = features.Select(t =>
            {
                var k = t.narrow(0, 0,
                row).clone().DetachFromDisposeScope(); t.Dispose(); return k;
            }).ToArray();
            if (images is not null) { var k = images.narrow(0, 0, row).clone().DetachFromDisposeScope(); images.Dispose(); images = k; }
        }
        return new FeatureCache(features, images, samples);
    }

    static long[] Shape(Tensor t, long rows) { var s = t.shape.ToArray(); s[0] = rows; return s; }

    /// <summary>Rows in the cache.</summary>
    public int Count => (int)_features[0].shape[0];

    /// <summary>The rows at <paramref name="indices"/>: features, and images when cached (owned by the current scope).</summary>
    public (Tensor[] Features, Tensor? Images) Gather(Tensor indices) =>
        (_features.Select(f => f.index_select(0, indices)).ToArray(), _images?.index_select(0, indices));

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var f in _features) f.Dispose();
        _images?.Dispose();
    }
}
