using AnomalySharp.Configuration;
using SkiaSharp;

namespace AnomalySharp.Data;

/// <summary>
/// A deterministic generator of MVTec-layout datasets: textured surfaces ("texture") or a round part on a
/// background ("object"), with painted scratches, holes and stains and their pixel masks. The same seed, kind,
/// size and counts always give byte-identical files. It is the built-in default dataset and the test data.
/// </summary>
public static class SyntheticDataset
{
    /// <summary>Version of the generator; a cached folder made by another version is regenerated.</summary>
    public const int GeneratorVersion = 1;

    /// <summary>The defect types painted into test images.</summary>
    public static readonly string[] DefectTypes = { "scratch", "hole", "stain" };

    /// <summary>The kind named <paramref name="text"/>.</summary>
    /// <exception cref="AnomalySharpException">No kind has that name; the message names <paramref name="option"/>.</exception>
    public static SyntheticKind ParseKind(string text, string option) => ConfigNames.Parse<SyntheticKind>(text)
        ?? throw new AnomalySharpException($"{option}: synthetic kind must be 'texture' or 'object', got '{text}'");

    /// <summary>How many images of each kind to generate.</summary>
    public sealed record Options(SyntheticKind Kind = SyntheticKind.Texture, int Seed = 42, int ImageSize = 128, int TrainCount = 60,
        int TestGoodCount = 12, int TestDefectCountPerType = 8);

    /// <summary>
    /// Generates (or reuses, when the folder holds this exact generation) the dataset under <paramref name="root"/>
    /// and returns it read as an <see cref="MvtecDataset"/>.
    /// </summary>
    public static MvtecDataset Create(string root, Options options)
    {
        string stamp = $"v{GeneratorVersion} {options}";
        string stampFile = Path.Combine(root, "GENERATED");
        if (File.Exists(stampFile) && File.ReadAllText(stampFile) == stamp) return new MvtecDataset(root);

        string tmp = root.TrimEnd(Path.DirectorySeparatorChar) + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        Directory.CreateDirectory(tmp);
        var rng = new Random(options.Seed);
        Write(tmp, "train", "good", options.TrainCount, options, rng, defect: null);
        Write(tmp, "test", "good", options.TestGoodCount, options, rng, defect: null);
        foreach (string type in DefectTypes)
            Write(tmp, "test", type, options.TestDefectCountPerType, options, rng, defect: type);
        File.WriteAllText(Path.Combine(tmp, "GENERATED"), stamp);
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(root))!);
        Directory.Move(tmp, root);
        return new MvtecDataset(root);
    }

    /// <summary>The folder under the user's cache where the default synthetic dataset lives.</summary>
    public static string DefaultRoot(Options options)
    {
        string cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } x
            ? x : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(cache, "anomalysharp",
            $"synthetic-{options.Kind.ConfigName()}-s{options.Seed}-{options.ImageSize}px-v{GeneratorVersion}");
    }

    static void Write(string root, string split, string type, int count, Options o, Random rng, string? defect)
    {
        string dir = Path.Combine(root, split, type);
        Directory.CreateDirectory(dir);
        string? maskDir = defect == null ? null : Path.Combine(root, "ground_truth", type);
        if (maskDir != null) Directory.CreateDirectory(maskDir);
        for (int i = 0; i < count; i++)
        {
            int s = o.ImageSize;
            using var image = new SKBitmap(new SKImageInfo(s, s, SKColorType.Rgba8888, SKAlphaType.Premul));
            using var mask = new SKBitmap(new SKImageInfo(s, s, SKColorType.Rgba8888, SKAlphaType.Premul));
            using (var canvas = new SKCanvas(image))
            using (var maskCanvas = new SKCanvas(mask))
            {
                maskCanvas.Clear(SKColors.Black);
                var region = PaintNormal(canvas, s, o.Kind, rng);
                if (defect != null) DefectPainter.Paint(canvas, maskCanvas, s, defect, region, rng);
            }
            string stem = i.ToString("000");
            Save(image, Path.Combine(dir, stem + ".png"));
            if (maskDir != null) Save(mask, Path.Combine(maskDir, stem + "_mask.png"));
        }
    }

    /// <summary>Paints a normal surface and returns the rectangle where defects may go.</summary>
    static SKRect PaintNormal(SKCanvas canvas, int s, SyntheticKind kind, Random rng)
    {
        float jitter() => (float)(rng.NextDouble() - 0.5);
        var baseColor = new SKColor((byte)(120 + 10 * jitter()), (byte)(125 + 10 * jitter()), (byte)(110 + 10 * jitter()));
        canvas.Clear(kind == SyntheticKind.Object ? new SKColor(30, 32, 36) : baseColor);
        using var noise = SKShader.CreatePerlinNoiseFractalNoise(0.06f, 0.06f, 3, rng.Next(1, 100000));
        using var noisePaint = new SKPaint { Shader = noise, BlendMode = SKBlendMode.Overlay, IsAntialias = true };
        SKRect region;
        if (kind == SyntheticKind.Object)
        {
            float cx = s / 2f + 2 * jitter(), cy = s / 2f + 2 * jitter(), r = s * (0.36f + 0.01f * jitter());
            using var body = new SKPaint { Color = baseColor, IsAntialias = true };
            canvas.DrawCircle(cx, cy, r, body);
            canvas.Save();
            using var clip = new SKRoundRect(new SKRect(cx - r, cy - r, cx + r, cy + r), r, r);
            canvas.ClipRoundRect(clip, antialias: true);
            canvas.DrawRect(0, 0, s, s, noisePaint);
            canvas.Restore();
            float half = r * 0.6f;
            region = new SKRect(cx - half, cy - half, cx + half, cy + half);
        }
        else
        {
            canvas.DrawRect(0, 0, s, s, noisePaint);
            // A regular weave: thin lines every few pixels with a random phase.
            float step = s / 16f, phase = (float)rng.NextDouble() * step;
            using var line = new SKPaint { Color = new SKColor(90, 92, 85, 90), StrokeWidth = 1.2f, IsAntialias = true };
            for (float p = phase; p < s; p += step)
            {
                canvas.DrawLine(p, 0, p, s, line);
                canvas.DrawLine(0, p, s, p, line);
            }
            region = new SKRect(s * 0.12f, s * 0.12f, s * 0.88f, s * 0.88f);
        }
        return region;
    }

    static void Save(SKBitmap bitmap, string path)
    {
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        using var stream = File.Create(path);
        data.SaveTo(stream);
    }
}
