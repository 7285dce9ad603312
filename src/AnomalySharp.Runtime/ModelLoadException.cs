namespace AnomalySharp.Runtime;

/// <summary>A model file that is missing or is not an AnomalySharp ONNX export; the message names the file.</summary>
public sealed class ModelLoadException : UserInputException
{
    /// <summary>Creates the exception.</summary>
    public ModelLoadException(string message, Exception? inner = null) : base(message, inner) { }
}
