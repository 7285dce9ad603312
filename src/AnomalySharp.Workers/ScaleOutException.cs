namespace AnomalySharp.Workers;

/// <summary>A setup problem a user can fix (a server that cannot be reached, a stream that does not fit, a bad option): one line, exit code
/// 2.</summary>
public sealed class ScaleOutException : AnomalySharp.Runtime.UserInputException
{
    /// <summary>Creates the exception.</summary>
    public ScaleOutException(string message, Exception? inner = null) : base(message, inner) { }
}
