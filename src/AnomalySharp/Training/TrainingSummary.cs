namespace AnomalySharp.Training;

/// <summary>What a training run did, for results.json.</summary>
/// <param name="Epochs">Epochs completed.</param>
/// <param name="Seconds">Training seconds (all sessions of a resumed run).</param>
/// <param name="FinalLoss">Mean loss of the last epoch.</param>
/// <param name="BestEpoch">Epoch whose weights were kept (the last one when nothing is monitored).</param>
/// <param name="BestValue">The monitored value at that epoch, or null.</param>
/// <param name="StoppedEarly">True when early stopping ended the run.</param>
/// <param name="FeaturesCached">True when the frozen features were computed once and kept.</param>
/// <param name="ImagesPerSecond">Training images per second of the last epoch.</param>
/// <param name="HeldOut">Normal training images held out of training to watch the loss on (0 without holdout_loss).</param>
public sealed record TrainingSummary(int Epochs, double Seconds, double FinalLoss, int BestEpoch, double? BestValue, bool StoppedEarly,
    bool FeaturesCached,
    double ImagesPerSecond, int HeldOut = 0)
{
    /// <summary>A tiled ensemble's positions, each trained on its own (the numbers above are then their sums and means); null
    /// otherwise.</summary>
    public IReadOnlyList<TrainingSummary>? Positions { get; init; }
}
