using static TorchSharp.torch;

namespace AnomalySharp.Training;

/// <summary>
/// A model that learns a network by gradient descent on normal images (STFPM, FastFlow, Reverse Distillation).
/// The <see cref="Trainer"/> runs its epochs; the model only says what is frozen, what is learned and what the
/// loss is. A frozen network's features do not change between epochs, so the trainer computes them once and
/// keeps them when no augmentation is on. It knows nothing of scoring: a trainable model is also an anomaly model
/// (Models.NetworkModel), but the trainer sits below the models and never needs that side.
/// </summary>
public interface ITrainableModel
{
    /// <summary>The learned part: its parameters are optimized, its state (with buffers) is what checkpoints hold.</summary>
    nn.Module Network { get; }

    /// <summary>True when <see cref="Loss"/> needs the images themselves (a student that sees pixels).</summary>
    bool LossNeedsImages { get; }

    /// <summary>Features of the frozen network for images [B,3,S,S] (RGB 0..1), without autograd; the caller owns them.</summary>
    Tensor[] FrozenFeatures(Tensor images);

    /// <summary>
    /// The training loss (a scalar with autograd) of one batch, from its frozen features and, when
    /// <see cref="LossNeedsImages"/>, its images (otherwise null).
    /// </summary>
    Tensor Loss(Tensor? images, IReadOnlyList<Tensor> frozen);
}
