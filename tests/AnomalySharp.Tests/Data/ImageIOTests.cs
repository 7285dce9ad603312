using AnomalySharp.Data;
using SkiaSharp;

namespace AnomalySharp.Tests.Data;

public class ImageIOTests
{
    [Fact]
    public void RealGrayscaleJpegBecomesThreeEqualChannels()
    {
        string file = Directory.GetFiles(Path.Combine(TestPaths.SharedData("magnetic_tile"), "train", "good"), "*.jpg").OrderBy(f => f,
            StringComparer.Ordinal).First();
        using (var codec = SKCodec.Create(file)) Assert.Equal(SKColorType.Gray8, codec.Info.ColorType);
        var image = ImageIO.Decode(file);
        using var t = ImageIO.ToTensor(image, 256);
        Assert.Equal(new long[] { 3, 256, 256 }, t.shape);
        Assert.True(t[0].eq(t[1]).all().item<bool>() && t[1].eq(t[2]).all().item<bool>());
        Assert.InRange(t.max().item<float>(), 0.05f, 1f);
    }

    [Fact]
    public void SixteenBitGrayscalePngDecodes()
    {
        string dir = TestPaths.TempDir("png16");
        string file = Path.Combine(dir, "g16.png");
        TestImages.Gray16Png(file, 40, 30, (x, y) => (ushort)(x * 1600));
        var image = ImageIO.Decode(file);
        Assert.Equal((40, 30), (image.Width, image.Height));
        using var t = ImageIO.ToTensor(image, 40);
        Assert.Equal(0f, t[0, 0, 0].item<float>(), 2);
        Assert.Equal(39 * 1600 / 65535f, t[1, 5, 39].item<float>(), 2);
    }

    [Fact]
    public void RgbaPngDropsAlphaAndKeepsColourOrder()
    {
        string dir = TestPaths.TempDir("rgba");
        string file = Path.Combine(dir, "c.png");
        TestImages.Png(file, 8, 8, (x, y) => new SKColor(255, 0, 0, 128));
        using var t = ImageIO.ToTensor(ImageIO.Decode(file), 8);
        Assert.Equal(1f, t[0].mean().item<float>(), 2);
        Assert.Equal(0f, t[2].mean().item<float>(), 2);
    }

    [Fact]
    public void TruncatedOrNonImageFilesAreNamedInTheError()
    {
        string dir = TestPaths.TempDir("bad");
        string good = Path.Combine(dir, "good.jpg");
        TestImages.Jpeg(good, 64, 64, (x, y) => new SKColor((byte)x, (byte)y, 0));
        string truncated = Path.Combine(dir, "truncated.jpg");
        File.WriteAllBytes(truncated, File.ReadAllBytes(good).AsSpan(0, 300).ToArray());
        string text = Path.Combine(dir, "notes.png");
        File.WriteAllText(text, "not an image");
        var e1 = Assert.Throws<AnomalySharpException>(() => ImageIO.Decode(truncated));
        Assert.Contains("truncated.jpg", e1.Message);
        var e2 = Assert.Throws<AnomalySharpException>(() => ImageIO.Decode(text));
        Assert.Contains("notes.png", e2.Message);
    }

    [Fact]
    public void MasksAreBinaryAfterNearestResize()
    {
        string dir = TestPaths.TempDir("mask");
        string file = Path.Combine(dir, "m.png");
        TestImages.Png(file, 100, 50, (x, y) => x < 50 ? SKColors.White : new SKColor(100, 100, 100));
        using var m = ImageIO.MaskToTensor(ImageIO.Decode(file), 64);
        Assert.Equal(new long[] { 1, 64, 64 }, m.shape);
        Assert.Equal(0.5f, m.mean().item<float>(), 2);
        Assert.True(m.eq(0).logical_or(m.eq(1)).all().item<bool>());
    }
}
