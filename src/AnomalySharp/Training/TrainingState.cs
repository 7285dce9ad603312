namespace AnomalySharp.Training;

/// <summary>Where a training run stands; checkpoints record it so a run resumes exactly.</summary>
internal sealed class TrainingState
{
    /// <summary>Completed epochs.</summary>
    public int Epoch { get; set; }
    /// <summary>Batches done in the epoch after <see cref="Epoch"/> (non-zero only for an interrupted epoch).</summary>
    public int Step { get; set; }
    /// <summary>Sum of batch losses (weighted by batch size) in the unfinished epoch.</summary>
    public double LossSum { get; set; }
    /// <summary>Images behind <see cref="LossSum"/>.</summary>
    public int LossCount { get; set; }
    /// <summary>The best monitored value so far, or null before the first validation.</summary>
    public double? Best { get; set; }
    /// <summary>The epoch of <see cref="Best"/>.</summary>
    public int BestEpoch { get; set; }
    /// <summary>Validations since the last improvement.</summary>
    public int BadValidations { get; set; }
    /// <summary>True once early stopping ended the run.</summary>
    public bool StoppedEarly { get; set; }
    /// <summary>Training seconds so far, over all sessions of the run.</summary>
    public double Seconds { get; set; }
}
