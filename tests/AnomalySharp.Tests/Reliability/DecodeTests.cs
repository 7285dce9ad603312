using System.Buffers.Binary;
using AnomalySharp.Runtime;
using AnomalySharp.Tests.Data;
using SkiaSharp;

namespace AnomalySharp.Tests.Reliability;

/// <summary>Incomplete or inconsistent images are errors, and decoding is bounded by the model's input size.</summary>
public class DecodeTests
{
    static readonly string Progressive = Path.Combine(AppContext.BaseDirectory, "Reliability", "Files", "progressive.jpg");

    static byte[] Jpeg(int w, int h)
    {
        string path = Path.Combine(TestPaths.TempDir("decode"), "x.jpg");
        TestImages.Jpeg(path, w, h, (x, y) => new SKColor((byte)(x * 7), (byte)(y * 5), (byte)((x ^ y) * 3)));
        return File.ReadAllBytes(path);
    }

    static ImageDecodeException Refused(byte[] bytes, int targetSize = 256) =>
        Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(bytes, "img", targetSize: targetSize));

    /// <summary>Refused for <paramref name="problem"/> with under 1 MB allocated: from the header and structure alone.</summary>
    static ImageDecodeException RefusedBeforeAllocating(byte[] bytes, ImageProblem problem)
    {
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        var e = Refused(bytes);
        Assert.Equal(problem, e.Problem);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocated < 1 << 20);
        return e;
    }

    [Fact]
    public void TruncatedJpegsAreRefusedBaselineAndProgressive()
    {
        byte[] progressive = File.ReadAllBytes(Progressive);
        using (var whole = ImageDecoder.Decode(progressive, "p")) Assert.Equal((96, 80), (whole.Width, whole.Height));
        byte[] baseline = Jpeg(96, 80);
        foreach (byte[] file in new[] { progressive, baseline })
            foreach (int cut in new[] { file.Length / 3, file.Length / 2, file.Length - 2 })
            {
                var e = Refused(file[..cut]);
                Assert.Equal(ImageProblem.Damaged, e.Problem);
                Assert.Contains("img: image is truncated", e.Message);
            }
    }

    [Fact]
    public void AJpegHeaderThatDeclaresMoreThanItsDataIsRefusedBeforeDecoding()
    {
        byte[] bytes = Jpeg(64, 64);
        int sof = bytes.AsSpan().IndexOf(new byte[] { 0xFF, 0xC0 });
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(sof + 5), 6000);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(sof + 7), 6000);
        var e = RefusedBeforeAllocating(bytes, ImageProblem.Damaged);
        Assert.Contains("too few for the 6000x6000 pixels its header declares", e.Message);
    }

    [Fact]
    public void PngWithoutItsEndOrCutInsideAChunkIsRefused()
    {
        string path = Path.Combine(TestPaths.TempDir("decode"), "x.png");
        TestImages.Png(path, 40, 30, (x, y) => new SKColor((byte)x, (byte)y, 9));
        byte[] png = File.ReadAllBytes(path);
        using (var ok = ImageDecoder.Decode(png, "img")) Assert.Equal(40, ok.Width);
        Assert.Contains("no IEND chunk", Refused(png[..^12]).Message);
        Assert.Contains("ends inside chunk", Refused(png[..(png.Length / 2)]).Message);
    }

    [Fact]
    public void AHugeDeclaredPngIsRefusedByTheDecodeBudgetNotAllocated()
    {
        var e = RefusedBeforeAllocating(TestImages.HugePng(6300, 6300), ImageProblem.TooLarge);
        Assert.Contains("only JPEG and WebP are decoded at a reduced scale", e.Message);
    }

    [Fact]
    public void LargeJpegsDecodeAtAReducedScaleSmallOnesUnchanged()
    {
        byte[] big = Jpeg(1024, 768);
        // Model side 64: both sides at least 8·64, so the decode keeps both at least 4·64 = 256: scale 1/2 here.
        using (var reduced = ImageDecoder.Decode(big, "big", targetSize: 64))
        {
            Assert.Equal((512, 384), (reduced.Width, reduced.Height));
            Assert.Equal((1024, 768), (reduced.SourceWidth, reduced.SourceHeight));
        }
        using (var full = ImageDecoder.Decode(big, "big", targetSize: 256)) Assert.Equal((1024, 768), (full.Width, full.Height));
        using (var none = ImageDecoder.Decode(big, "big")) Assert.Equal(1024, none.Width);
    }
}
