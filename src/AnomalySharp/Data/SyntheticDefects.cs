using System.Globalization;
using SkiaSharp;

namespace AnomalySharp.Data;

/// <summary>
/// Label-free validation images (training.monitor holdout_synthetic): every held-out normal training image beside
/// twins of it that carry one defect each, with their masks. The defects cycle through a painted scratch, hole and stain (as in
/// the built-in synthetic dataset) and a CutPaste patch (a piece of the same image, rotated, flipped and re-lit, pasted
/// elsewhere: a defect made of the part's own texture). The twins are files in a folder the run owns, so they can be
/// looked at; the same images and seed give the same bytes, and a folder already holding them is reused (a resumed run).
/// </summary>
internal static class SyntheticDefects
{
    /// <summary>The defect types, in the order the twins take them.</summary>
    public static readonly string[] Types = { "scratch", "hole", "stain", "cutpaste" };

    const string StampFile = "GENERATED";
    const int Version = 1;

    /// <summary>The fewest defective twins a set gets: a small held-out share has up to one twin per defect type per image.</summary>
    public const int MinTwins = 32;

    /// <summary>
    /// Writes the twins of <paramref name="normals"/> under <paramref name="folder"/> (TYPE/NNN.png for an image's first twin,
    /// TYPE/NNN_J.png for more; masks under ground_truth/TYPE)
    /// and returns the validation set: the normals as they are, then their twins, image by image. Each image gets
    /// <see cref="TwinsPerImage"/> twins of different types, so even a few held-out images give a usable AUROC.
    /// An image that cannot be decoded fails the call with its name, or, given <paramref name="skipUnreadable"/>, is
    /// reported to it and left out (the set is then made from the others).
    /// </summary>
    public static IReadOnlyList<AnomalySample> Create(IReadOnlyList<AnomalySample> normals, string folder, int seed,
        Action<string>? skipUnreadable = null)
    {
        if (normals.Count == 0) throw new AnomalySharpException("training.monitor holdout_synthetic: none of the held-out training "
            + "images could be read");
        int perImage = TwinsPerImage(normals.Count);
        var twins = normals.SelectMany((_, i) => Enumerable.Range(0, perImage).Select(j =>
        {
            string type = Types[(i + j) % Types.Length];
            string stem = i.ToString("000", CultureInfo.InvariantCulture) + (j == 0 ? "" : "_" + j.ToString(CultureInfo.InvariantCulture));
            return new AnomalySample(Path.Combine(folder, type, stem + ".png"), true, type, Path.Combine(folder, "ground_truth", type,
                stem + "_mask.png"));
        })).ToList();
        string stamp = string.Create(CultureInfo.InvariantCulture, $"v{Version} seed {seed} twins {perImage}\n") + string.Join("\n",
            normals.Select(n => Path.GetFullPath(n.ImagePath)));
        string stampPath = Path.Combine(folder, StampFile);
        bool current = File.Exists(stampPath) && File.ReadAllText(stampPath) == stamp && twins.All(t
            => File.Exists(t.ImagePath) && File.Exists(t.MaskPath));
        if (!current)
        {
            if (File.Exists(stampPath)) File.Delete(stampPath); // written last: a folder without it is incomplete
            for (int i = 0; i < normals.Count; i++)
            {
                Runtime.DecodedImage decoded;
                try { decoded = ImageIO.Decode(normals[i].ImagePath); } // once for all of its twins
                catch (AnomalySharpException e) when (skipUnreadable != null)
                {
                    skipUnreadable(e.Message);
                    int bad = i;
                    return Create(normals.Where((_, j) => j != bad).ToList(), folder, seed, skipUnreadable);
                }
                using var owned = decoded;
                for (int j = 0; j < perImage; j++)
                    WriteTwin(decoded, twins[i * perImage + j], new Random(unchecked(seed * 1_000_003 + i + j * 1_000_000)));
            }
            File.WriteAllText(stampPath, stamp);
        }
        return normals.Select(n => n with { IsAnomalous = false, DefectType = "good", MaskPath = null }).Concat(twins).ToList();
    }

    /// <summary>Twins per image for <paramref name="images"/> held-out images: enough for <see cref="MinTwins"/>, at most one per
    /// type.</summary>
    public static int TwinsPerImage(int images) => Math.Clamp((MinTwins + images - 1) / Math.Max(1, images), 1, Types.Length);

    static void WriteTwin(Runtime.DecodedImage decoded, AnomalySample twin, Random rng)
    {
        int w = decoded.Width, h = decoded.Height, s = Math.Min(w, h);
        // Opaque pixels read the same premultiplied or not; Skia draws only into premultiplied rasters.
        var info = new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var image = new SKBitmap(info);
        using var mask = new SKBitmap(info);
        decoded.Pixels.CopyTo(image.GetPixelSpan());
        using (var canvas = new SKCanvas(image))
        using (var maskCanvas = new SKCanvas(mask))
        {
            maskCanvas.Clear(SKColors.Black);
            var region = new SKRect(w * 0.12f, h * 0.12f, w * 0.88f, h * 0.88f);
            if (twin.DefectType == "cutpaste") CutPaste(image, canvas, maskCanvas, s, region, rng);
            else DefectPainter.Paint(canvas, maskCanvas, s, twin.DefectType, region, rng);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(twin.ImagePath)!);
        Directory.CreateDirectory(Path.GetDirectoryName(twin.MaskPath!)!);
        ImageIO.SavePng(twin.ImagePath, w, h, image.GetPixelSpan());
        ImageIO.SavePng(twin.MaskPath!, w, h, mask.GetPixelSpan());
    }

    /// <summary>A patch of 8–20% of the shorter side, cut anywhere, rotated, maybe mirrored, re-lit by ±25%, pasted into the
    /// region.</summary>
    static void CutPaste(SKBitmap image, SKCanvas canvas, SKCanvas mask, int s, SKRect region, Random rng)
    {
        float pw = s * (0.08f + 0.12f * (float)rng.NextDouble()), ph = pw * (0.5f + (float)rng.NextDouble());
        float sx = (float)rng.NextDouble() * (image.Width - pw), sy = (float)rng.NextDouble() * (image.Height - ph);
        float cx = region.Left + (float)rng.NextDouble() * region.Width, cy = region.Top + (float)rng.NextDouble() * region.Height;
        float angle = (float)(rng.NextDouble() * 360), light = 0.75f + 0.5f * (float)rng.NextDouble();
        bool mirror = rng.Next(2) == 1;
        using var snapshot = SKImage.FromBitmap(image); // a copy: the patch comes from the unpainted image
        using var relight = SKColorFilter.CreateColorMatrix(new[]
        {
            light, 0, 0, 0, 0,
            0, light, 0, 0, 0,
            0, 0, light, 0, 0,
            0, 0, 0, 1, 0,
        });
        using var paint = new SKPaint { ColorFilter = relight, IsAntialias = true };
        using var white = new SKPaint { Color = SKColors.White, IsAntialias = false };
        var target = new SKRect(-pw / 2, -ph / 2, pw / 2, ph / 2);
        foreach (var (c, draw) in new (SKCanvas, Action<SKCanvas>)[]
        {
            (canvas, k => k.DrawImage(snapshot, new SKRect(sx, sy, sx + pw, sy + ph), target,
                new SKSamplingOptions(SKFilterMode.Linear), paint)),
            (mask, k => k.DrawRect(target, white)),
        })
        {
            c.Save();
            c.Translate(cx, cy);
            c.RotateDegrees(angle);
            if (mirror) c.Scale(-1, 1);
            draw(c);
            c.Restore();
        }
    }
}
