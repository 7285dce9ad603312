namespace AnomalySharp.Training;

/// <summary>What early stopping and the best checkpoint watch (training.monitor); see <see cref="TrainingOptions.Monitor"/>.</summary>
public enum TrainingMonitor
{
    /// <summary>The loss on held-out normal training images, every epoch.</summary>
    HoldoutLoss,
    /// <summary>1 − the mean image and pixel AUROC on defects pasted into the held-out normal images, every epoch.</summary>
    HoldoutSynthetic,
    /// <summary>The training loss.</summary>
    Loss,
    /// <summary>Image AUROC on labelled validation images.</summary>
    ImageAuroc,
    /// <summary>Pixel AUROC on labelled validation images.</summary>
    PixelAuroc,
    /// <summary>Nothing: the whole budget, the last weights.</summary>
    None,
}
