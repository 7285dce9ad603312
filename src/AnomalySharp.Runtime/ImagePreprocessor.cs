using Microsoft.ML.OnnxRuntime;

namespace AnomalySharp.Runtime;

/// <summary>
/// Decoded RGBA pixels to a model input [3,S,S] (RGB 0..1, antialiased bilinear resize) with the one preprocessing
/// graph (<see cref="ImageGraphs.Preprocess"/>) that training, evaluation, `predict`, `serve` and every exported
/// model's users share, so an image becomes the same floats on every path. Thread-safe.
/// </summary>
public sealed class ImagePreprocessor : IDisposable
{
    readonly InferenceSession _session;
    static readonly RunOptions NoOptions = new();

    /// <summary>The side S of the square input.</summary>
    public int Size { get; }

    /// <summary>Builds the graph for inputs of side <paramref name="size"/>.</summary>
    public ImagePreprocessor(int size)
    {
        Size = size;
        // Inputs of every size: without an arena, memory goes back after each call instead of staying at the largest
        // image ever seen. One thread: callers already run one image per core.
        using var options = ComputeThreads.SessionOptions(1, arena: false);
        _session = new InferenceSession(ImageGraphs.Preprocess(size), options);
    }

    /// <summary>Writes the model input for <paramref name="image"/> into <paramref name="destination"/> (3·S·S floats).</summary>
    public void Prepare(DecodedImage image, Span<float> destination)
    {
        using var rgba = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, image.Rgba.AsMemory(0, image.Width * image.Height * 4),
            new long[] { image.Height, image.Width, 4 });
        using var outputs = _session.Run(NoOptions, new[] { "rgba" }, new[] { rgba }, new[] { "input" });
        outputs[0].GetTensorDataAsSpan<float>().CopyTo(destination);
    }

    /// <inheritdoc />
    public void Dispose() => _session.Dispose();
}
