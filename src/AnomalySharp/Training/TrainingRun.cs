using AnomalySharp.Data;
using AnomalySharp.Diagnostics;

namespace AnomalySharp.Training;

/// <summary>How one training run is driven: where it reports, keeps checkpoints and logs, validates, and resumes from.</summary>
internal sealed class TrainingRun
{
    /// <summary>Progress bars and messages.</summary>
    public IProgressReporter Progress { get; init; } = NullProgress.Instance;
    /// <summary>Cancelling saves a checkpoint (when there is a folder) and stops with <see cref="TrainingInterruptedException"/>.</summary>
    public CancellationToken Cancellation { get; init; }
    /// <summary>Folder for last.ckpt, best.ckpt, metrics.csv and TensorBoard events; null keeps none.</summary>
    public string? Folder { get; init; }
    /// <summary>A checkpoint to continue from, or null for a fresh run.</summary>
    public string? ResumeFrom { get; init; }
    /// <summary>Metrics of the model (in evaluation mode) on validation images, e.g. image_auroc and pixel_auroc; null: none.</summary>
    public Func<IReadOnlyDictionary<string, double>>? Validate { get; init; }
    /// <summary>
    /// For training.monitor holdout_synthetic: image_auroc and pixel_auroc of the model (in evaluation mode) on the held-out
    /// training images (the samples behind the held-out items, image by image) and twins of them with synthetic defects.
    /// </summary>
    public Func<IReadOnlyList<AnomalySample>, IReadOnlyDictionary<string, double>>? ValidateSynthetic { get; init; }
    /// <summary>Training items per image (a tiled model trains on its tiles, image i's being items i·K … i·K + K − 1): images are held out
    /// whole.</summary>
    public int ItemsPerImage { get; init; } = 1;
    /// <summary>The checkpoint header for a state (configuration, dataset); required with a folder.</summary>
    public Func<TrainingState, Checkpoint>? Describe { get; init; }
    /// <summary>Seed of the shuffling and augmentation.</summary>
    public int Seed { get; init; }
}
