using System.Globalization;
using Microsoft.ML.OnnxRuntime;

namespace AnomalySharp.Runtime;

/// <summary>
/// Runs an AnomalySharp model exported to ONNX (input <c>image</c> [N,3,H,W] RGB 0..1, outputs <c>anomaly_map</c>
/// [N,1,H,W] and <c>score</c> [N], normalized with the threshold at 0.5) with ONNX Runtime alone: decoding, resizing,
/// the model, masks and heat maps, no TorchSharp. Thread-safe: concurrent calls share a pool of sessions.
/// </summary>
public sealed class OnnxAnomalyDetector : IDisposable
{
    const string InputName = "image", MapName = "anomaly_map", ScoreName = "score";
    readonly SessionPool _model;
    readonly ImagePreprocessor _pre;
    readonly InferenceSession _post;
    readonly DetectorOptions _options;
    static readonly RunOptions NoOptions = new();

    /// <summary>The model's metadata_props (model name, image size, thresholds, versions).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>Model name (e.g. "padim").</summary>
    public string ModelName { get; }
    /// <summary>Side of the square input the model works at (the larger side of a rectangular one).</summary>
    public int ImageSize => Math.Max(ImageHeight, ImageWidth);
    /// <summary>Height of the input the model works at.</summary>
    public int ImageHeight { get; }
    /// <summary>Width of the input the model works at.</summary>
    public int ImageWidth { get; }
    /// <summary>Threshold on normalized scores and maps.</summary>
    public double Threshold => 0.5;
    /// <summary>Largest batch the model runs at once (from its metadata); larger calls are split.</summary>
    public int MaxBatch { get; }
    /// <summary>Sessions in the pool.</summary>
    public int Sessions => _options.Sessions;

    /// <summary>Loads an exported model.</summary>
    /// <exception cref="ModelLoadException">The file is missing or is not an AnomalySharp ONNX export.</exception>
    public OnnxAnomalyDetector(string path, DetectorOptions? options = null)
        : this(ReadModel(path), path, options)
    {
    }

    /// <summary>
    /// Loads an exported model from its bytes (<paramref name="name"/> names it in messages): what the library does
    /// with a saved model, whose export is built in memory, so it scores exactly as the exported file would.
    /// </summary>
    /// <exception cref="ModelLoadException">The bytes are not an AnomalySharp ONNX export.</exception>
    public OnnxAnomalyDetector(byte[] bytes, string name, DetectorOptions? options = null)
    {
        _options = options ?? new DetectorOptions();
        string path = name;
        OnnxModelFile.Verify(bytes, path);
        try { _model = new SessionPool(bytes, _options.Sessions, _options.ThreadsPerSession); }
        catch (OnnxRuntimeException e)
        {
            throw new ModelLoadException($"{path}: not a loadable ONNX model ({e.Message.Split('\n')[0]})",
            e);
        }
        var session = _model.Any;
        if (!session.InputMetadata.ContainsKey(InputName) || !session.OutputMetadata.ContainsKey(MapName)
            || !session.OutputMetadata.ContainsKey(ScoreName))
        {
            _model.Dispose();
            throw new ModelLoadException($"{path}: not an AnomalySharp export (needs input '{InputName}' and outputs '{MapName}', "
                + $"'{ScoreName}'; export with `anomalysharp export`)");
        }
        Metadata = session.ModelMetadata.CustomMetadataMap;
        ModelName = Metadata.TryGetValue("anomalysharp.model", out var m) ? m : "unknown";
        var dims = session.InputMetadata[InputName].Dimensions;
        if (Metadata.TryGetValue("anomalysharp.image_height", out var mh) && Metadata.TryGetValue("anomalysharp.image_width", out var mw))
            (ImageHeight, ImageWidth) = (int.Parse(mh, CultureInfo.InvariantCulture), int.Parse(mw, CultureInfo.InvariantCulture));
        else
            ImageHeight = ImageWidth = Metadata.TryGetValue("anomalysharp.image_size", out var s) ? int.Parse(s,
                CultureInfo.InvariantCulture) : dims[^1];
        MaxBatch = Metadata.TryGetValue("anomalysharp.max_batch", out var mb) && int.TryParse(mb, CultureInfo.InvariantCulture,
            out int limit) && limit > 0 ? limit : int.MaxValue;
        // The pixel graphs see inputs of every size; without an arena, their memory goes back after each call instead
        // of staying at the largest image ever seen.
        _pre = new ImagePreprocessor(ImageHeight, ImageWidth);
        using var small = ComputeThreads.SessionOptions(1, arena: false);
        _post = new InferenceSession(ImageGraphs.Postprocess(ImageHeight, ImageWidth), small);
    }

    /// <summary>
    /// Decodes encoded image bytes with this detector's pixel limit, at a size bounded by the model's input side (see
    /// <see cref="ImageDecoder"/>): what training and evaluation decode too.
    /// </summary>
    /// <exception cref="ImageDecodeException">Not an image, too large, or damaged.</exception>
    public DecodedImage Decode(ReadOnlySpan<byte> encoded, string name) => ImageDecoder.Decode(encoded, name, _options.MaxPixels,
        ImageSize);

    /// <summary>
    /// Reads an image file, refusing one larger than <see cref="DetectorOptions.MaxFileBytes"/> before reading it, and
    /// anything that is not a regular file (a link to /dev/zero dropped into a watched folder).
    /// </summary>
    /// <exception cref="ImageDecodeException">The file is too large or not a regular file.</exception>
    public byte[] ReadFile(string path) =>
        BoundedFile.ReadAllBytes(path, _options.MaxFileBytes,
            (problem, m)
                => new ImageDecodeException(problem == BoundedFile.Problem.TooLarge ? ImageProblem.TooLarge : ImageProblem.NotAnImage, m));

    /// <summary>The most bytes a model file may have: ONNX's 2 GB protobuf limit, within the largest .NET array.</summary>
    public static long MaxModelBytes => Array.MaxLength;

    /// <summary>Reads a model file: a regular file within <see cref="MaxModelBytes"/>.</summary>
    /// <exception cref="ModelLoadException">Missing, not a regular file, or too large.</exception>
    public static byte[] ReadModel(string path) =>
        BoundedFile.ReadAllBytes(path, MaxModelBytes,
            (problem, m) => new ModelLoadException(problem == BoundedFile.Problem.Missing ? $"{path}: model file not found" : m));

    /// <summary>The model input for one image: [3,H,W] RGB 0..1, resized with antialiased bilinear interpolation.</summary>
    public void Prepare(DecodedImage image, Span<float> destination) => _pre.Prepare(image, destination);

    /// <summary>Scores a batch of decoded images; optionally renders masks and overlays as PNG.</summary>
    public AnomalyPrediction[] Predict(IReadOnlyList<DecodedImage> images, bool masks = false, bool overlays = false)
    {
        if (images.Count == 0) return Array.Empty<AnomalyPrediction>();
        int plane = 3 * ImageHeight * ImageWidth, mapPlane = ImageHeight * ImageWidth;
        var batch = new float[images.Count * plane];
        for (int i = 0; i < images.Count; i++) Prepare(images[i], batch.AsSpan(i * plane, plane));
        var maps = new float[images.Count * mapPlane];
        var scores = new float[images.Count];
        for (int start = 0; start < images.Count; start += MaxBatch)
        {
            int n = Math.Min(MaxBatch, images.Count - start), offset = start;
            _model.Run(session =>
            {
                using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, batch.AsMemory(offset * plane,
                    n * plane), new long[] { n, 3, ImageHeight, ImageWidth });
                using var outputs = session.Run(NoOptions, new[] { InputName }, new[] { input }, new[] { MapName, ScoreName });
                outputs[0].GetTensorDataAsSpan<float>().CopyTo(maps.AsSpan(offset * mapPlane, n * mapPlane));
                outputs[1].GetTensorDataAsSpan<float>().CopyTo(scores.AsSpan(offset, n));
                return 0;
            });
        }
        var results = new AnomalyPrediction[images.Count];
        for (int i = 0; i < images.Count; i++)
        {
            float[] map = maps.AsSpan(i * mapPlane, mapPlane).ToArray();
            byte[]? maskPng = null, overlayPng = null;
            if (masks || overlays)
                (maskPng, overlayPng) = Render(map, batch.AsMemory(i * plane, plane), images[i].Width, images[i].Height, masks, overlays);
            results[i] = new AnomalyPrediction(scores[i], scores[i] >= Threshold, Threshold, map, ImageSize, images[i].Width,
                images[i].Height, maskPng, overlayPng)
            { SourceWidth = images[i].SourceWidth, SourceHeight = images[i].SourceHeight, MapHeight = ImageHeight, MapWidth = ImageWidth };
        }
        return results;
    }

    /// <summary>Reads, decodes and scores image files (decoded pixels are released even when a file fails).</summary>
    /// <exception cref="ImageDecodeException">A file is not an image, too large, or damaged.</exception>
    public AnomalyPrediction[] PredictFiles(IReadOnlyList<string> paths, bool masks = false, bool overlays = false)
    {
        var images = new List<DecodedImage>(paths.Count);
        try
        {
            foreach (string path in paths) images.Add(Decode(ReadFile(path), path));
            return Predict(images, masks, overlays);
        }
        finally { foreach (var image in images) image.Dispose(); }
    }

    /// <summary>
    /// Runs one blank image through every session, so each has built its kernels and memory arena before the first
    /// request: a server's first requests are not slow, and its resting memory is its working memory.
    /// </summary>
    public void WarmUp()
    {
        var input = new float[3 * ImageHeight * ImageWidth];
        _model.ForEach(session =>
        {
            using var value = OrtValue.CreateTensorValueFromMemory(input, new long[] { 1, 3, ImageHeight, ImageWidth });
            using var outputs = session.Run(NoOptions, new[] { InputName }, new[] { value }, new[] { MapName, ScoreName });
        });
    }

    /// <summary>Decodes and scores one encoded image.</summary>
    public AnomalyPrediction Predict(ReadOnlySpan<byte> encoded, string name, bool masks = false, bool overlays = false)
    {
        using var image = Decode(encoded, name);
        return Predict(new[] { image }, masks, overlays)[0];
    }

    (byte[]? Mask, byte[]? Overlay) Render(float[] map, Memory<float> input, int width, int height, bool mask, bool overlay)
    {
        using var mapValue = OrtValue.CreateTensorValueFromMemory(map, new long[] { 1, 1, ImageHeight, ImageWidth });
        using var inputValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, input, new long[] { 1, 3,
            ImageHeight, ImageWidth });
        using var sizes = OrtValue.CreateTensorValueFromMemory(new long[] { 1, 1, height, width }, new long[] { 4 });
        var wanted = new List<string>();
        if (mask) wanted.Add("mask");
        if (overlay) wanted.Add("overlay");
        using var outputs = _post.Run(NoOptions, new[] { "map", "input", "sizes" }, new[] { mapValue, inputValue, sizes }, wanted);
        byte[]? maskPng = null, overlayPng = null;
        int k = 0;
        if (mask) maskPng = ImageDecoder.EncodeGrayPng(width, height, outputs[k++].GetTensorDataAsSpan<byte>());
        if (overlay) overlayPng = ImageDecoder.EncodePng(ImageWidth, ImageHeight, outputs[k].GetTensorDataAsSpan<byte>());
        return (maskPng, overlayPng);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _model.Dispose();
        _pre.Dispose();
        _post.Dispose();
    }
}
