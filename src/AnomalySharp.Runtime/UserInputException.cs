namespace AnomalySharp.Runtime;

/// <summary>
/// The base of every error a user can fix: a file, a folder, an option, a configuration key, a server to reach. Its
/// message is one line naming what is wrong and where; a command line prints <see cref="CommandLineMessage"/> and
/// exits with code 2. Anything else that escapes is a bug or a failure of the machine, never the user's input.
/// </summary>
public abstract class UserInputException : Exception
{
    /// <summary>Creates the exception with a one-line message and, optionally, its cause.</summary>
    protected UserInputException(string message, Exception? inner = null) : base(message, inner) { }

    /// <summary>The message as a command line prints it (options written as its flags); by default the message itself.</summary>
    public virtual string CommandLineMessage => Message;
}
