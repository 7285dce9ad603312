namespace AnomalySharp;

/// <summary>
/// A problem with the user's input (a file, a folder, an option, a configuration key). Its message is one line
/// that names what is wrong and where, in the library's terms (its parameters by name); command-line front ends print
/// <see cref="CommandLineMessage"/>, which names the same options as flags, and exit with code 2.
/// </summary>
public sealed class AnomalySharpException : AnomalySharp.Runtime.UserInputException
{
    readonly string _template;

    /// <summary>
    /// Creates the exception with a one-line message; parameters named in it are marked with <see cref="OptionText.Name"/>.
    /// </summary>
    public AnomalySharpException(string message) : base(OptionText.Library(message)) => _template = message;

    /// <summary>Creates the exception with a one-line message and its cause.</summary>
    public AnomalySharpException(string message, Exception inner) : base(OptionText.Library(message), inner) => _template = message;

    /// <summary>The message with the options it names written as command-line flags.</summary>
    public override string CommandLineMessage => OptionText.CommandLine(_template);
}
