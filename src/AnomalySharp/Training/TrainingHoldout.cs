using AnomalySharp.Configuration;
using AnomalySharp.Data;
using static TorchSharp.torch;

namespace AnomalySharp.Training;

/// <summary>The held-out share of the training images that the holdout monitors judge, and its loss.</summary>
internal static class TrainingHoldout
{
    /// <summary>
    /// (the items trained on, the held-out items, the held-out images): for the holdout monitors, a seeded share of the
    /// training images (at least one, and at least one left to train on), with all their items
    /// (<see cref="TrainingRun.ItemsPerImage"/>); none for other monitors or a source that cannot be read by index.
    /// </summary>
    public static (int[] Train, int[] Holdout, int[] HeldOutImages) Split(TrainingOptions options, TrainingRun run, int count,
        bool indexable)
    {
        var everything = Enumerable.Range(0, count).ToArray();
        if (!options.HoldsOut) return (everything, Array.Empty<int>(), Array.Empty<int>());
        int k = Math.Max(1, run.ItemsPerImage), images = count / k;
        if (!indexable || images < 2 || images * k != count)
        {
            run.Progress.Message(!indexable ? $"{options.Monitor.ConfigName()}: these training images cannot be read by index; "
                + $"training the full budget"
                : $"{options.Monitor.ConfigName()}: too few training images to hold some out; training the full budget");
            return (everything, Array.Empty<int>(), Array.Empty<int>());
        }
        int n = Math.Clamp((int)Math.Round(images * options.HoldoutFraction), 1, images - 1);
        var shuffled = TrainingBatches.Order(run.Seed, 0, images); // epoch 0 is never trained, so its order is free for this draw
        var held = shuffled.Take(n).Order().ToArray();
        int[] Items(IEnumerable<int> imageIndices) => imageIndices.SelectMany(i => Enumerable.Range(i * k, k)).ToArray();
        return (Items(shuffled.Skip(n).Order()), Items(held), held);
    }

    /// <summary>The mean loss of the held-out images, in evaluation mode and without gradients.</summary>
    public static double Loss(ITrainableModel model, FitData data, FeatureCache? cache, int[] holdout, int batchSize,
        CancellationToken cancellation)
    {
        var net = model.Network;
        net.eval();
        double sum = 0;
        int n = 0;
        using (no_grad())
            foreach (var (images, frozen, disposeAll) in TrainingBatches.Of(model, data, cache, holdout, 0, batchSize,
                Augmentation.None, 0, 0))
            {
                try
                {
                    cancellation.ThrowIfCancellationRequested();
                    using var loss = model.Loss(images, frozen);
                    int b = (int)frozen[0].shape[0];
                    sum += loss.item<float>() * b; n += b;
                }
                finally { disposeAll(); }
            }
        net.train();
        return n > 0 ? sum / n : double.NaN;
    }
}
