namespace AnomalySharp.Training;

/// <summary>Training stopped on request (Ctrl-C, SIGTERM) after saving a checkpoint to resume from.</summary>
public sealed class TrainingInterruptedException : Exception
{
    /// <summary>The checkpoint that was written.</summary>
    public string CheckpointPath { get; }

    /// <summary>Creates the exception.</summary>
    public TrainingInterruptedException(string message, string checkpointPath) : base(message) { CheckpointPath = checkpointPath; }
}
