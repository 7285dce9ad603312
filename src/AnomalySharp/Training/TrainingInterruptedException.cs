namespace AnomalySharp.Training;

/// <summary>Training stopped on request (Ctrl-C, SIGTERM) after saving a checkpoint to resume from.</summary>
public sealed class TrainingInterruptedException : Exception
{
    readonly string _template;

    /// <summary>The checkpoint that was written.</summary>
    public string CheckpointPath { get; }

    /// <summary>Creates the exception; parameters named in the message are marked with <see cref="OptionText.Name"/>.</summary>
    public TrainingInterruptedException(string message, string checkpointPath) : base(OptionText.Library(message))
    {
        _template = message;
        CheckpointPath = checkpointPath;
    }

    /// <summary>The message with the options it names written as command-line flags.</summary>
    public string CommandLineMessage => OptionText.CommandLine(_template);
}
