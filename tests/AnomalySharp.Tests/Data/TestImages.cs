using System.Buffers.Binary;
using System.IO.Compression;
using SkiaSharp;

namespace AnomalySharp.Tests.Data;

/// <summary>Writes small real image files for tests.</summary>
internal static class TestImages
{
    public static void Png(string path, int w, int h, Func<int, int, SKColor> pixel) => Encode(path, w, h, pixel,
        SKEncodedImageFormat.Png, 100);

    public static void Jpeg(string path, int w, int h, Func<int, int, SKColor> pixel) => Encode(path, w, h, pixel,
        SKEncodedImageFormat.Jpeg, 95);

    static void Encode(string path, int w, int h, Func<int, int, SKColor> pixel, SKEncodedImageFormat format, int quality)
    {
        using var bmp = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) bmp.SetPixel(x, y, pixel(x, y));
        using var img = SKImage.FromBitmap(bmp);
        using var data = img.Encode(format, quality);
        File.WriteAllBytes(path, data.ToArray());
    }

    /// <summary>A 16-bit grayscale PNG written byte by byte (colour type 0, bit depth 16).</summary>
    public static void Gray16Png(string path, int w, int h, Func<int, int, ushort> value)
    {
        var raw = new MemoryStream();
        for (int y = 0; y < h; y++)
        {
            raw.WriteByte(0); // filter: none
            for (int x = 0; x < w; x++) { ushort v = value(x, y); raw.WriteByte((byte)(v >> 8)); raw.WriteByte((byte)v); }
        }
        var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Optimal, leaveOpen: true)) raw.WriteTo(zs);
        using var f = File.Create(path);
        f.Write(new byte[] { 137, 80, 78, 71, 13, 10, 26, 10 });
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, w); BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), h);
        ihdr[8] = 16; ihdr[9] = 0;
        Chunk(f, "IHDR", ihdr); Chunk(f, "IDAT", z.ToArray()); Chunk(f, "IEND", Array.Empty<byte>());
    }

    /// <summary>
    /// A tiny 8-bit grayscale PNG whose header claims <paramref name="w"/>×<paramref name="h"/> pixels (a
    /// decompression bomb): a valid header and a short all-zero image stream.
    /// </summary>
    public static byte[] HugePng(int w, int h, bool allRows = false) => AnomalySharp.Bench.BurstProbe.ZeroPng(w, h, allRows);

    static void Chunk(Stream s, string type, byte[] data) => AnomalySharp.Bench.BurstProbe.PngChunk(s, type, data);

    /// <summary>A small MVTec-layout folder: 6 train, 2 good + 2 defective test images with masks.</summary>
    public static string MiniMvtec(string root, int size = 64)
    {
        foreach (var d in new[] { "train/good", "test/good", "test/dent",
            "ground_truth/dent" }) Directory.CreateDirectory(Path.Combine(root, d));
        for (int i = 0; i < 6; i++) Png(Path.Combine(root, "train/good", $"{i:000}.png"), size, size, (x,
            y) => new SKColor((byte)(100 + i), 100, 100));
        for (int i = 0; i < 2; i++) Png(Path.Combine(root, "test/good", $"{i:000}.png"), size, size, (x, y) => new SKColor(101, 100, 100));
        for (int i = 0; i < 2; i++)
        {
            Png(Path.Combine(root, "test/dent", $"{i:000}.png"), size, size, (x,
                y) => x < 10 && y < 10 ? SKColors.Black : new SKColor(100, 100, 100));
            Png(Path.Combine(root, "ground_truth/dent", $"{i:000}_mask.png"), size, size, (x,
                y) => x < 10 && y < 10 ? SKColors.White : SKColors.Black);
        }
        return root;
    }
}
