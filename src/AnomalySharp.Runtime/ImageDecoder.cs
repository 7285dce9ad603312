using SkiaSharp;

namespace AnomalySharp.Runtime;

/// <summary>
/// Decodes PNG, JPEG, BMP, GIF and WebP (8 or 16 bits, gray, RGB or RGBA) to 8-bit RGBA with SkiaSharp, with memory
/// bounded by the model's input size rather than by what a header declares:
/// <list type="bullet">
/// <item>the file's structure is checked first (<see cref="EncodedImageCheck"/>): a truncated file, or one whose data
/// is too short for its declared size, is refused before any pixel memory is allocated;</item>
/// <item>the declared width·height is checked against a limit;</item>
/// <item>given the model's input side S, a JPEG or WebP whose sides are both at least 8·S is decoded at a reduced scale
/// (1/2, 1/4 or 1/8, keeping both sides at least 4·S), and the decoded image may hold at most
/// <see cref="DecodeBudgetPixels"/>(S) pixels, so a format without scaled decoding (PNG, BMP, GIF) larger than that is
/// refused as too large.</item>
/// </list>
/// Images below 8·S on a side (every image of the usual datasets at S = 256) decode at full size, unchanged.
/// </summary>
public static class ImageDecoder
{
    /// <summary>The default limit on declared width·height (100 megapixels).</summary>
    public const long DefaultMaxPixels = 100_000_000;

    /// <summary>Most pixels a decoded image may hold for a model of input side <paramref name="size"/>: (16·S)².</summary>
    public static long DecodeBudgetPixels(int size) => 256L * size * size;

    /// <summary>Decodes encoded bytes; <paramref name="name"/> appears in error messages.</summary>
    /// <param name="bytes">The encoded file.</param>
    /// <param name="name">The file or upload name for messages.</param>
    /// <param name="maxPixels">Largest declared width·height accepted.</param>
    /// <param name="targetSize">The model's input side S (0: decode at full size, bounded by <paramref name="maxPixels"/> only).</param>
    public static DecodedImage Decode(ReadOnlySpan<byte> bytes, string name, long maxPixels = DefaultMaxPixels, int targetSize = 0)
    {
        if (bytes.IsEmpty) throw new ImageDecodeException(ImageProblem.Empty, $"{name}: empty image file");
        using var data = SKData.CreateCopy(bytes);
        return Decode(data, name, pooled: false, maxPixels, targetSize);
    }

    /// <summary>Decodes Skia data into a pooled buffer when <paramref name="pooled"/> (dispose the result to return it).</summary>
    public static DecodedImage Decode(SKData data, string name, bool pooled, long maxPixels = DefaultMaxPixels, int targetSize = 0)
    {
        if (data.Size == 0) throw new ImageDecodeException(ImageProblem.Empty, $"{name}: empty image file");
        EncodedImageCheck.Verify(data.AsSpan(), name);
        using var codec = SKCodec.Create(data)
            ?? throw new ImageDecodeException(ImageProblem.NotAnImage, $"{name}: not a readable image (unknown or damaged format)");
        var info = codec.Info;
        if (info.Width <= 0 || info.Height <= 0) throw new ImageDecodeException(ImageProblem.NotAnImage, $"{name}: image has no pixels");
        if ((long)info.Width * info.Height > maxPixels)
            throw new ImageDecodeException(ImageProblem.TooLarge,
                $"{name}: image too large ({info.Width}x{info.Height} pixels, limit {maxPixels})");
        var size = DecodeSize(codec, targetSize);
        if (targetSize > 0 && (long)size.Width * size.Height > DecodeBudgetPixels(targetSize))
            throw new ImageDecodeException(ImageProblem.TooLarge,
                $"{name}: image too large ({info.Width}x{info.Height} {codec.EncodedFormat}, over {DecodeBudgetPixels(targetSize)} "
                    + $"pixels for a model of {targetSize} px; only JPEG and WebP are decoded at a reduced scale)");
        var target = new SKImageInfo(size.Width, size.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        byte[] rgba = pooled ? System.Buffers.ArrayPool<byte>.Shared.Rent(target.BytesSize) : new byte[target.BytesSize];
        unsafe
        {
            fixed (byte* ptr = rgba)
            {
                var result = codec.GetPixels(target, (IntPtr)ptr);
                if (result != SKCodecResult.Success)
                {
                    if (pooled) System.Buffers.ArrayPool<byte>.Shared.Return(rgba);
                    throw new ImageDecodeException(ImageProblem.Damaged,
                        result is SKCodecResult.IncompleteInput or SKCodecResult.ErrorInInput
                        ? $"{name}: image is truncated or damaged ({result})" : $"{name}: cannot decode image ({result})");
                }
            }
        }
        return new DecodedImage(size.Width, size.Height, rgba) { Pooled = pooled, SourceWidth = info.Width, SourceHeight = info.Height };
    }

    /// <summary>
    /// The size to decode at: full size, or for JPEG and WebP with both sides at least 8·S the largest reduction
    /// 1/k (k = 2, 4, 8) that keeps both sides at least 4·S.
    /// </summary>
    static SKSizeI DecodeSize(SKCodec codec, int targetSize)
    {
        var info = codec.Info;
        if (targetSize <= 0
            || codec.EncodedFormat is not (SKEncodedImageFormat.Jpeg or SKEncodedImageFormat.Webp)) return new SKSizeI(info.Width,
                info.Height);
        long floor = 4L * targetSize;
        int k = 1;
        while (k < 8 && info.Width / (2 * k) >= floor && info.Height / (2 * k) >= floor) k *= 2;
        return k == 1 ? new SKSizeI(info.Width, info.Height) : codec.GetScaledDimensions(1f / k);
    }

    /// <summary>Encodes RGBA pixels as PNG.</summary>
    public static byte[] EncodePng(int width, int height, ReadOnlySpan<byte> rgba)
    {
        using var png = new MemoryStream();
        WritePng(png, width, height, rgba);
        return png.ToArray();
    }

    /// <summary>Encodes RGBA pixels as PNG into <paramref name="destination"/>, with no managed copy of the pixels or the file.</summary>
    public static void WritePng(Stream destination, int width, int height, ReadOnlySpan<byte> rgba)
    {
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        rgba[..(width * height * 4)].CopyTo(bitmap.GetPixelSpan());
        using var image = SKImage.FromBitmap(bitmap);
        using var encoded = image.Encode(SKEncodedImageFormat.Png, 100);
        destination.Write(encoded.AsSpan());
    }

    /// <summary>Encodes 8-bit gray pixels as PNG.</summary>
    public static byte[] EncodeGrayPng(int width, int height, ReadOnlySpan<byte> gray)
    {
        var info = new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque);
        using var bitmap = new SKBitmap(info);
        gray[..(width * height)].CopyTo(bitmap.GetPixelSpan());
        using var image = SKImage.FromBitmap(bitmap);
        using var encoded = image.Encode(SKEncodedImageFormat.Png, 100);
        return encoded.ToArray();
    }
}
