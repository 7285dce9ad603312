using Microsoft.ML.OnnxRuntime;

namespace AnomalySharp.Runtime;

/// <summary>
/// Decoded RGBA pixels to a model input [3,H,W] (RGB 0..1, antialiased bilinear resize) with the one preprocessing
/// graph (<see cref="ImageGraphs.Preprocess"/>) that training, evaluation, `predict`, `serve` and every exported
/// model's users share, so an image becomes the same floats on every path. Thread-safe.
/// </summary>
public sealed class ImagePreprocessor : IDisposable
{
    readonly InferenceSession _session;
    static readonly RunOptions NoOptions = new();

    /// <summary>The input's height.</summary>
    public int Height { get; }
    /// <summary>The input's width.</summary>
    public int Width { get; }
    /// <summary>The side of a square input (the larger side of a rectangular one).</summary>
    public int Size => Math.Max(Height, Width);

    /// <summary>Builds the graph for square inputs of side <paramref name="size"/>.</summary>
    public ImagePreprocessor(int size) : this(size, size) { }

    /// <summary>Builds the graph for inputs of <paramref name="height"/> × <paramref name="width"/>.</summary>
    public ImagePreprocessor(int height, int width)
    {
        Height = height; Width = width;
        // Inputs of every size: without an arena, memory goes back after each call instead of staying at the largest
        // image ever seen. One thread: callers already run one image per core.
        using var options = ComputeThreads.SessionOptions(1, arena: false);
        _session = new InferenceSession(ImageGraphs.Preprocess(height, width), options);
    }

    /// <summary>
    /// The preprocessing graph itself (rgba uint8 [H,W,4] → input float [1,3,h,w], opset 18), as ONNX bytes: exports carry
    /// it in their metadata (anomalysharp.preprocess_onnx) so that another runtime, a browser included, prepares an image
    /// into the same floats.
    /// </summary>
    public static byte[] Graph(int height, int width) => ImageGraphs.Preprocess(height, width);

    /// <summary>Writes the model input for <paramref name="image"/> into <paramref name="destination"/> (3·H·W floats).</summary>
    public void Prepare(DecodedImage image, Span<float> destination)
    {
        using var rgba = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, image.Rgba.AsMemory(0,
            image.Width * image.Height * 4),
            new long[] { image.Height, image.Width, 4 });
        using var outputs = _session.Run(NoOptions, new[] { "rgba" }, new[] { rgba }, new[] { "input" });
        outputs[0].GetTensorDataAsSpan<float>().CopyTo(destination);
    }

    /// <inheritdoc />
    public void Dispose() => _session.Dispose();
}
