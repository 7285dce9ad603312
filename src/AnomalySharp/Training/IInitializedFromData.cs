using static TorchSharp.torch;

namespace AnomalySharp.Training;

/// <summary>
/// A trainable model whose network holds something computed from the training images before the first step (CFA's
/// memory bank: the mean of its untrained descriptor's outputs). The <see cref="Trainer"/> hands it the frozen features of
/// every training image once, without gradients, before epoch 1 of a fresh run; the result lives in the network's state,
/// so a resumed or fine-tuned run has it already.
/// </summary>
internal interface IInitializedFromData
{
    /// <summary>True until <see cref="Initialize"/> has run (also false after loading a state that holds its result).</summary>
    bool NeedsInitialization { get; }

    /// <summary>Computes the data-dependent state from the frozen features of every training image, batch by batch (each
    /// batch is freed after the next one is asked for).</summary>
    void Initialize(IEnumerable<Tensor[]> frozenBatches);
}
