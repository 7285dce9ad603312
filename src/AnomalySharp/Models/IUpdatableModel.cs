using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using static TorchSharp.torch;

namespace AnomalySharp.Models;

/// <summary>
/// A fitted model that folds new normal images in without seeing its old ones again (`anomalysharp update`): PaDiM
/// merges running sums exactly, PatchCore grows its memory bank by the same coreset selection. What the merge needs
/// beyond the inference state is kept apart (<see cref="GetUpdateState"/>): it is saved in the model file, never in an
/// export. Models that learn a network are updated by fine-tuning instead (the engine's business, not this interface's).
/// </summary>
public interface IUpdatableModel
{
    /// <summary>Why this fitted model cannot be updated (a line for the user), or null when it can.</summary>
    string? UpdateRefusal { get; }

    /// <summary>How <see cref="Update"/> folds images in, in a few words for the user (results.json's update.mode).</summary>
    string UpdateMode { get; }

    /// <summary>Folds the new normal images into the fitted model.</summary>
    void Update(FitData data, IProgressReporter progress);

    /// <summary>The state an update needs beyond <see cref="IAnomalyModel.GetState"/> (empty when there is none).</summary>
    IReadOnlyDictionary<string, Tensor> GetUpdateState();

    /// <summary>Restores a state written by <see cref="GetUpdateState"/>; the model takes ownership of the tensors.</summary>
    void LoadUpdateState(IReadOnlyDictionary<string, Tensor> state);
}
