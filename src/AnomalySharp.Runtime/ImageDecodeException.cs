namespace AnomalySharp.Runtime;

/// <summary>Why an image could not be used.</summary>
public enum ImageProblem
{
    /// <summary>No bytes.</summary>
    Empty,
    /// <summary>Not an image format the decoder knows, or a damaged header.</summary>
    NotAnImage,
    /// <summary>More pixels than the limit (a decompression bomb is refused before decoding).</summary>
    TooLarge,
    /// <summary>Truncated or damaged pixel data.</summary>
    Damaged,
}

/// <summary>An image that cannot be decoded; <see cref="Exception.Message"/> names it and says why.</summary>
public sealed class ImageDecodeException : UserInputException
{
    /// <summary>The kind of problem.</summary>
    public ImageProblem Problem { get; }

    /// <summary>Creates the exception.</summary>
    public ImageDecodeException(ImageProblem problem, string message) : base(message) => Problem = problem;
}
