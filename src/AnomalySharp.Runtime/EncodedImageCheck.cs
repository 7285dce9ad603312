using System.Buffers.Binary;

namespace AnomalySharp.Runtime;

/// <summary>
/// Checks that an encoded image is whole before it is decoded. SkiaSharp reports a truncated JPEG (baseline or
/// progressive) as a successful decode, filling the missing rows with grey, and accepts a PNG without its end chunk;
/// a header can also declare far more pixels than the data holds. This walks the file's structure (JPEG markers and
/// scans, PNG chunks, GIF blocks, the RIFF size of WebP, the pixel array of an uncompressed BMP) in linear time and
/// without allocating, and refuses a file that ends early or whose data is too short for its declared size.
/// </summary>
public static class EncodedImageCheck
{
    /// <summary>Throws <see cref="ImageDecodeException"/> (<see cref="ImageProblem.Damaged"/>) when the file is not whole.</summary>
    public static void Verify(ReadOnlySpan<byte> b, string name)
    {
        if (b.Length >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) Jpeg(b, name);
        else if (b.Length >= 8 && b[..8].SequenceEqual(PngSignature)) Png(b, name);
        else if (b.Length >= 6 && (b[..6].SequenceEqual("GIF87a"u8) || b[..6].SequenceEqual("GIF89a"u8))) Gif(b, name);
        else if (b.Length >= 12 && b[..4].SequenceEqual("RIFF"u8) && b.Slice(8, 4).SequenceEqual("WEBP"u8)) Webp(b, name);
        else if (b.Length >= 2 && b[0] == (byte)'B' && b[1] == (byte)'M') Bmp(b, name);
    }

    static ReadOnlySpan<byte> PngSignature => new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A };

    static ImageDecodeException Truncated(string name, string what) => new(ImageProblem.Damaged, $"{name}: image is truncated ({what})");
    static ImageDecodeException Damaged(string name, string what) => new(ImageProblem.Damaged, $"{name}: image is damaged ({what})");

    static bool IsStartOfFrame(byte m) => m is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC;

    static void Jpeg(ReadOnlySpan<byte> b, string name)
    {
        int i = 2;
        long mcus = 0, entropyBytes = 0;
        int width = 0, height = 0;
        bool arithmetic = false, frame = false, scan = false;
        while (true)
        {
            // Bytes before a marker are tolerated (libjpeg skips them with a warning); the file must still reach EOI.
            int ff = b[i..].IndexOf((byte)0xFF);
            if (ff < 0) throw Truncated(name, "no end-of-image marker");
            i += ff;
            while (i < b.Length && b[i] == 0xFF) i++;
            if (i >= b.Length) throw Truncated(name, "no end-of-image marker");
            byte m = b[i++];
            if (m == 0xD9) break;
            if (m == 0x00 || m == 0x01 || m is >= 0xD0 and <= 0xD8) continue;
            if (i + 2 > b.Length) throw Truncated(name, "ends inside a marker");
            int length = BinaryPrimitives.ReadUInt16BigEndian(b[i..]);
            if (length < 2) throw Damaged(name, $"marker 0x{m:X2} with length {length}");
            if (i + length > b.Length) throw Truncated(name, $"ends inside marker 0x{m:X2}");
            var segment = b.Slice(i + 2, length - 2);
            i += length;
            if (IsStartOfFrame(m) && !frame)
            {
                if (segment.Length < 6) throw Damaged(name, "short frame header");
                height = BinaryPrimitives.ReadUInt16BigEndian(segment[1..]);
                width = BinaryPrimitives.ReadUInt16BigEndian(segment[3..]);
                int components = segment[5];
                if (width == 0 || components == 0 || segment.Length < 6 + 3 * components) throw Damaged(name, "bad frame header");
                int hmax = 1, vmax = 1;
                for (int c = 0; c < components; c++)
                {
                    byte sampling = segment[6 + 3 * c + 1];
                    hmax = Math.Max(hmax, sampling >> 4);
                    vmax = Math.Max(vmax, sampling & 15);
                }
                mcus = height == 0 ? 0 : (long)((width + 8 * hmax - 1) / (8 * hmax)) * ((height + 8 * vmax - 1) / (8 * vmax));
                arithmetic = m >= 0xC9;
                frame = true;
            }
            if (m != 0xDA) continue;
            if (!frame) throw Damaged(name, "image data before the frame header");
            scan = true;
            int start = i;
            while (true)
            {
                int next = b[i..].IndexOf((byte)0xFF);
                if (next < 0) throw Truncated(name, "the image data ends before the image does");
                i += next;
                if (i + 1 >= b.Length) throw Truncated(name, "the image data ends before the image does");
                byte after = b[i + 1];
                if (after == 0x00 || after is >= 0xD0 and <= 0xD7) { i += 2; continue; }
                if (after == 0xFF) { i++; continue; }
                break;
            }
            entropyBytes += i - start;
        }
        if (!frame || !scan) throw Damaged(name, "no image data");
        // Huffman coding spends at least one bit per block of every component in a scan, so on at least one bit per
        // MCU; real images use hundreds. (Arithmetic coding can go below a bit, so it is not held to this.)
        if (!arithmetic && entropyBytes * 8 < mcus)
            throw Damaged(name, $"its {entropyBytes} bytes of image data are too few for the {width}x{height} pixels its header declares");
    }

    static void Png(ReadOnlySpan<byte> b, string name)
    {
        int i = 8;
        bool header = false, data = false;
        while (true)
        {
            if (i + 8 > b.Length) throw Truncated(name, "no IEND chunk");
            uint length = BinaryPrimitives.ReadUInt32BigEndian(b[i..]);
            var type = b.Slice(i + 4, 4);
            if (length > int.MaxValue || i + 12 + (long)length > b.Length) throw Truncated(name, $"ends inside chunk {Ascii(type)}");
            if (!header && !type.SequenceEqual("IHDR"u8)) throw Damaged(name, "the first chunk is not IHDR");
            header = true;
            if (type.SequenceEqual("IDAT"u8)) data = true;
            i += 12 + (int)length;
            if (type.SequenceEqual("IEND"u8)) break;
        }
        if (!data) throw Damaged(name, "no IDAT chunk");
    }

    static string Ascii(ReadOnlySpan<byte> type)
    {
        Span<char> chars = stackalloc char[4];
        for (int k = 0; k < 4; k++) chars[k] = type[k] is >= 32 and < 127 ? (char)type[k] : '?';
        return new string(chars);
    }

    static void Gif(ReadOnlySpan<byte> b, string name)
    {
        if (b.Length < 13) throw Truncated(name, "short header");
        int i = 13;
        if ((b[10] & 0x80) != 0) i += 3 << ((b[10] & 7) + 1);
        bool image = false;
        while (true)
        {
            if (i >= b.Length) throw Truncated(name, "no trailer");
            byte block = b[i++];
            if (block == 0x3B) break;
            if (block == 0x21) { i++; }
            else if (block == 0x2C)
            {
                if (i + 9 > b.Length) throw Truncated(name, "ends inside an image descriptor");
                byte flags = b[i + 8];
                i += 9;
                if ((flags & 0x80) != 0) i += 3 << ((flags & 7) + 1);
                i++; // LZW minimum code size
                image = true;
            }
            else throw Damaged(name, $"unknown block 0x{block:X2}");
            while (true)
            {
                if (i >= b.Length) throw Truncated(name, "ends inside a data block");
                int size = b[i++];
                if (size == 0) break;
                i += size;
            }
        }
        if (!image) throw Damaged(name, "no image");
    }

    static void Webp(ReadOnlySpan<byte> b, string name)
    {
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(b[4..]);
        if (8L + size > b.Length) throw Truncated(name, $"{b.Length} bytes of the {8L + size} its header declares");
    }

    static void Bmp(ReadOnlySpan<byte> b, string name)
    {
        if (b.Length < 30) throw Truncated(name, "short header");
        uint offset = BinaryPrimitives.ReadUInt32LittleEndian(b[10..]);
        uint headerSize = BinaryPrimitives.ReadUInt32LittleEndian(b[14..]);
        if (headerSize < 40 || b.Length < 34) return; // OS/2 and other rare headers: left to the decoder
        long width = BinaryPrimitives.ReadInt32LittleEndian(b[18..]);
        long height = Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(b[22..]));
        int bits = BinaryPrimitives.ReadUInt16LittleEndian(b[28..]);
        uint compression = BinaryPrimitives.ReadUInt32LittleEndian(b[30..]);
        if (compression is not (0 or 3) || width <= 0 || bits == 0) return;
        long stride = (width * bits + 31) / 32 * 4;
        if (offset + stride * height > b.Length)
            throw Truncated(name, $"{b.Length} bytes, its {width}x{height} pixels need {offset + stride * height}");
    }
}
