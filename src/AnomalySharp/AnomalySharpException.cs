namespace AnomalySharp;

/// <summary>
/// A problem with the user's input (a file, a folder, an option, a configuration key). Its message is one line
/// that names what is wrong and where; command-line front ends print it and exit with code 2.
/// </summary>
public sealed class AnomalySharpException : Exception
{
    /// <summary>Creates the exception with a one-line message.</summary>
    public AnomalySharpException(string message) : base(message) { }

    /// <summary>Creates the exception with a one-line message and its cause.</summary>
    public AnomalySharpException(string message, Exception inner) : base(message, inner) { }
}
