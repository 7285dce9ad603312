using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using static TorchSharp.torch;

namespace AnomalySharp.Training;

/// <summary>
/// Where the trainer's batches come from: the epoch's seeded order of the images, and each batch gathered from the
/// feature cache or read, augmented and passed through the frozen network.
/// </summary>
internal static class TrainingBatches
{
    /// <summary>The epoch's seeded order of <paramref name="count"/> training images.</summary>
    public static int[] Order(int seed, int epoch, int count)
    {
        var order = Enumerable.Range(0, count).ToArray();
        new Random(Trainer.Mix(seed, epoch, 0x5348554646)).Shuffle(order);
        return order;
    }


    /// <summary>
    /// The epoch's batches from <paramref name="startStep"/> on: gathered from the cache, or read, augmented and passed
    /// through the frozen network. Each item comes with the action that frees it.
    /// </summary>
    public static IEnumerable<(Tensor? Images, Tensor[] Frozen, Action Dispose)> Of(ITrainableModel model, FitData data,
        FeatureCache? cache, int[] order, int startStep, int batchSize, Augmentation augment, int seed, int epoch)
    {
        if (cache != null)
        {
            foreach (var batch in NativeCallGuard.HandOut(Gathered(cache, order, startStep, batchSize)))
                yield return batch;
            yield break;
        }
        var rest = order.Skip(startStep * batchSize).ToList();
        var batches = data.Ordered?.Invoke(rest) ?? data.Batches().Skip(startStep);
        int step = startStep;
        foreach (var batch in batches)
        {
            var scope = NewDisposeScope();
            int batchIndex = step++;
            Tensor[] frozen;
            Tensor? images;
            try
            {
                images = batch.Images;
                if (augment.Enabled)
                    using (var generator = new Generator((ulong)Trainer.Mix(seed, epoch, batchIndex)))
                        images = augment.Apply(images, generator);
                frozen = model.FrozenFeatures(images);
            }
            catch { scope.Dispose(); batch.Dispose(); throw; }
            yield return (model.LossNeedsImages ? images : null, frozen, () => { scope.Dispose(); batch.Dispose(); });
        }
    }

    /// <summary>The steps that gather each batch of an epoch from the feature cache.</summary>
    static IEnumerable<Func<(Tensor? Images, Tensor[] Frozen, Action Dispose)>> Gathered(FeatureCache cache, int[] order, int startStep,
        int batchSize)
    {
        for (int start = startStep * batchSize; start < order.Length; start += batchSize)
        {
            int first = start;
            yield return () =>
            {
                var scope = NewDisposeScope();
                using var idx = tensor(order.Skip(first).Take(batchSize).Select(i => (long)i).ToArray());
                var (features, images) = cache.Gather(idx);
                return (images, features, scope.Dispose);
            };
        }
    }
}
