using SkiaSharp;

namespace AnomalySharp.Runtime;

/// <summary>
/// Decodes PNG, JPEG, BMP, GIF and WebP (8 or 16 bits, gray, RGB or RGBA) to 8-bit RGBA with SkiaSharp. The pixel
/// count is read from the header and checked against a limit before any pixel memory is allocated.
/// </summary>
public static class ImageDecoder
{
    /// <summary>The default limit on width·height (100 megapixels).</summary>
    public const long DefaultMaxPixels = 100_000_000;

    /// <summary>Decodes encoded bytes; <paramref name="name"/> appears in error messages.</summary>
    public static DecodedImage Decode(ReadOnlySpan<byte> bytes, string name, long maxPixels = DefaultMaxPixels)
    {
        if (bytes.IsEmpty) throw new ImageDecodeException(ImageProblem.Empty, $"{name}: empty image file");
        using var data = SKData.CreateCopy(bytes);
        return Decode(data, name, pooled: false, maxPixels);
    }

    /// <summary>Decodes Skia data into a pooled buffer when <paramref name="pooled"/> (dispose the result to return it).</summary>
    public static DecodedImage Decode(SKData data, string name, bool pooled, long maxPixels = DefaultMaxPixels)
    {
        if (data.Size == 0) throw new ImageDecodeException(ImageProblem.Empty, $"{name}: empty image file");
        using var codec = SKCodec.Create(data)
            ?? throw new ImageDecodeException(ImageProblem.NotAnImage, $"{name}: not a readable image (unknown or damaged format)");
        var info = codec.Info;
        if (info.Width <= 0 || info.Height <= 0) throw new ImageDecodeException(ImageProblem.NotAnImage, $"{name}: image has no pixels");
        if ((long)info.Width * info.Height > maxPixels)
            throw new ImageDecodeException(ImageProblem.TooLarge, $"{name}: image too large ({info.Width}x{info.Height} pixels, limit {maxPixels})");
        var target = new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        byte[] rgba = pooled ? System.Buffers.ArrayPool<byte>.Shared.Rent(target.BytesSize) : new byte[target.BytesSize];
        unsafe
        {
            fixed (byte* ptr = rgba)
            {
                var result = codec.GetPixels(target, (IntPtr)ptr);
                if (result != SKCodecResult.Success)
                {
                    if (pooled) System.Buffers.ArrayPool<byte>.Shared.Return(rgba);
                    throw new ImageDecodeException(ImageProblem.Damaged, result is SKCodecResult.IncompleteInput or SKCodecResult.ErrorInInput
                        ? $"{name}: image is truncated or damaged ({result})" : $"{name}: cannot decode image ({result})");
                }
            }
        }
        return new DecodedImage(info.Width, info.Height, rgba) { Pooled = pooled };
    }

    /// <summary>Encodes RGBA pixels as PNG.</summary>
    public static byte[] EncodePng(int width, int height, ReadOnlySpan<byte> rgba)
    {
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        rgba[..(width * height * 4)].CopyTo(bitmap.GetPixelSpan());
        using var image = SKImage.FromBitmap(bitmap);
        using var encoded = image.Encode(SKEncodedImageFormat.Png, 100);
        return encoded.ToArray();
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
