using AnomalySharp.Runtime;
using SkiaSharp;
using static TorchSharp.torch;

namespace AnomalySharp.Data;

/// <summary>
/// Decoding and encoding with SkiaSharp. Any bit depth and channel layout that Skia reads (8- or 16-bit,
/// grayscale, RGB, RGBA, palette; PNG, JPEG, BMP, WebP, GIF) comes out as 8-bit RGBA; grayscale is replicated
/// into three channels. A truncated or unreadable file is an <see cref="AnomalySharpException"/> naming it.
/// </summary>
internal static class ImageIO
{
    /// <summary>Largest accepted image, in pixels (guards against decompression bombs).</summary>
    public const long MaxPixels = 100_000_000;

    /// <summary>Largest accepted image file, in bytes (the runtime's default too).</summary>
    public const long MaxFileBytes = 256L << 20;

    /// <summary>The error for an image file that cannot be read: one line naming it.</summary>
    static Func<BoundedFile.Problem, string, Exception> ImageFileError(string path) => (problem, m) =>
        new AnomalySharpException(problem == BoundedFile.Problem.Missing ? $"{path}: image file not found" : $"image file {m}");

    /// <summary>Decodes a file.</summary>
    public static DecodedImage Decode(string path)
    {
        byte[] bytes = BoundedFile.ReadAllBytes(path, MaxFileBytes, ImageFileError(path));
        return Decode(bytes, path);
    }

    /// <summary>Decodes encoded bytes; <paramref name="name"/> is used in error messages.</summary>
    public static DecodedImage Decode(byte[] bytes, string name)
    {
        using var data = SKData.CreateCopy(bytes);
        return Decode(data, name, pooled: false);
    }

    /// <summary>
    /// Decodes a file read natively into a pooled buffer (dispose the result to return it): the batch path, which
    /// allocates no managed memory per image. <paramref name="targetSize"/> is the model's input side, which bounds
    /// the decoded size as it does in the runtime (see <see cref="ImageDecoder"/>).
    /// </summary>
    internal static DecodedImage DecodePooled(string path, int targetSize)
    {
        BoundedFile.CheckRegular(path, ImageFileError(path));
        long length = new FileInfo(path).Length;
        if (length > MaxFileBytes) throw new AnomalySharpException($"{path}: image file of {length} bytes is over the limit of "
            + $"{MaxFileBytes}");
        using var data = SKData.Create(path) ?? throw new AnomalySharpException($"{path}: cannot read image file");
        if (data.Size == 0) throw new AnomalySharpException($"{path}: empty image file");
        return Decode(data, path, pooled: true, targetSize);
    }

    static DecodedImage Decode(SKData data, string name, bool pooled, int targetSize = 0)
    {
        try { return ImageDecoder.Decode(data, name, pooled, MaxPixels, targetSize); }
        catch (ImageDecodeException e) { throw new AnomalySharpException(e.Message, e); }
    }

    static readonly System.Collections.Concurrent.ConcurrentDictionary<(int, int), Lazy<ImagePreprocessor>> Preprocessors = new();

    /// <summary>
    /// The preprocessing graph for inputs of side <paramref name="size"/>, shared by the process: the same resize an
    /// exported model's users get from the runtime (see <see cref="ImagePreprocessor"/>).
    /// </summary>
    public static ImagePreprocessor Preprocessor(int size) => Preprocessor(size, size);

    /// <summary>The preprocessing graph for inputs of <paramref name="height"/> × <paramref name="width"/>.</summary>
    public static ImagePreprocessor Preprocessor(int height, int width) =>
        Preprocessors.GetOrAdd((height, width), s => new Lazy<ImagePreprocessor>(() => new ImagePreprocessor(s.Item1, s.Item2))).Value;

    /// <summary>
    /// An image as a float tensor [3,size,size], RGB in 0..1, resized with antialiased bilinear interpolation
    /// (torchvision's Resize default) by the runtime's preprocessing graph.
    /// </summary>
    public static Tensor ToTensor(DecodedImage image, int size)
    {
        var input = empty(3, size, size);
        Preprocessor(size).Prepare(image, Components.TensorSpan.Floats(input));
        return input;
    }

    /// <summary>A mask as a float tensor [1,size,size] of 0 and 1 (nearest-neighbour resize, white = defect).</summary>
    public static Tensor MaskToTensor(DecodedImage mask, int size) => MaskToTensor(mask, size, size);

    /// <summary>A mask as a float tensor [1,height,width] of 0 and 1 (nearest-neighbour resize, white = defect).</summary>
    public static Tensor MaskToTensor(DecodedImage mask, int height, int width)
    {
        using var scope = NewDisposeScope();
        var hwc = Pixels(mask);
        var gray = hwc.narrow(2, 0, 3).to_type(ScalarType.Float32).amax(new long[] { 2 }).gt(127f).to_type(ScalarType.Float32);
        var resized = nn.functional.interpolate(gray.unsqueeze(0).unsqueeze(0), new long[] { height, width },
            mode: InterpolationMode.Nearest);
        return resized.squeeze(0).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>The pixels as a uint8 tensor [H,W,4] (copied, so a pooled buffer can be returned afterwards).</summary>
    static Tensor Pixels(DecodedImage image)
    {
        var hwc = empty(new long[] { image.Height, image.Width, 4 }, dtype: ScalarType.Byte);
        hwc.data<byte>().CopyFrom(image.Pixels);
        return hwc;
    }

    /// <summary>Encodes RGBA bytes as PNG into a file.</summary>
    public static void SavePng(string path, int width, int height, ReadOnlySpan<byte> rgba)
    {
        using var file = File.Create(path);
        ImageDecoder.WritePng(file, width, height, rgba);
    }

    /// <summary>Encodes an RGB tensor [3,H,W] (float in 0..1, or uint8) as PNG into a file, through no managed pixel copy.</summary>
    public static void SavePng(string path, Tensor chw)
    {
        using var rgba = RgbaTensor(chw);
        SavePng(path, (int)chw.shape[2], (int)chw.shape[1], rgba.bytes);
    }

    /// <summary>An RGB float tensor [3,H,W] in 0..1 as RGBA bytes.</summary>
    public static byte[] ToRgba(Tensor chw)
    {
        using var rgba = RgbaTensor(chw);
        return rgba.bytes.ToArray();
    }

    /// <summary>An RGB tensor [3,H,W], float in 0..1 or uint8, as a contiguous RGBA byte tensor [H,W,4].</summary>
    static Tensor RgbaTensor(Tensor chw)
    {
        using var scope = NewDisposeScope();
        var bytes = chw.dtype == ScalarType.Byte ? chw : chw.clamp(0f, 1f).mul(255f).round().to_type(ScalarType.Byte);
        var hwc = bytes.permute(1, 2, 0);
        var alpha = full(new long[] { hwc.shape[0], hwc.shape[1], 1 }, (byte)255, dtype: ScalarType.Byte);
        return cat(new[] { hwc, alpha }, 2).contiguous().MoveToOuterDisposeScope();
    }
}
