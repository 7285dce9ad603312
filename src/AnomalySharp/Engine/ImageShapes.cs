using System.Globalization;
using AnomalySharp.Data;
using AnomalySharp.Packaging;
using SkiaSharp;

namespace AnomalySharp.Engine;

/// <summary>
/// The shapes (width × height) of the images a model learns from. Every image is resized to data.image_size, so images
/// of another aspect ratio are stretched differently and look like defects to a model that never saw them: `update`
/// refuses new images whose shape matches none the model was trained on.
/// </summary>
internal sealed class ImageShapes
{
    readonly HashSet<(int Width, int Height)> _seen = new();

    /// <summary>The distinct shapes seen, at most <see cref="ModelProvenance.MaxSizes"/>, in a stable order.</summary>
    public IReadOnlyList<(int Width, int Height)> Seen
    {
        get { lock (_seen) return _seen.OrderBy(s => s.Width).ThenBy(s => s.Height).ToList(); }
    }

    /// <summary>Passes the batches through, noting their images' original shapes.</summary>
    public IEnumerable<ImageBatch> Watch(IEnumerable<ImageBatch> batches)
    {
        foreach (var batch in batches)
        {
            lock (_seen)
                foreach (var size in batch.OriginalSizes)
                    if (_seen.Count < ModelProvenance.MaxSizes) _seen.Add(size);
            yield return batch;
        }
    }

    /// <summary>An image file's shape from its header, without decoding it; null when it is not a readable image.</summary>
    public static (int Width, int Height)? ReadShape(string path)
    {
        try
        {
            using var codec = SKCodec.Create(path);
            return codec is null ? null : (codec.Info.Width, codec.Info.Height);
        }
        catch (IOException) { return null; }
    }

    /// <summary>
    /// Why <paramref name="path"/>, of <paramref name="shape"/>, does not fit a model trained on <paramref name="known"/>
    /// shapes, or null when it fits. The policy is the training images': when they share one aspect ratio (within 5%, a
    /// fixed camera), a new image must have it too; when theirs vary (crops of every shape, as magnetic_tile's), the model
    /// learned from images stretched in every way and any shape fits, as it does when nothing is known.
    /// </summary>
    public static string? Mismatch(string path, (int Width, int Height) shape, IReadOnlyList<(int Width, int Height)> known,
        (int Height, int Width) working)
    {
        if (known.Count == 0) return null;
        var logs = known.Select(k => Math.Log((double)k.Width / k.Height)).ToList();
        if (logs.Max() - logs.Min() > 0.1) return null;
        double aspect = (double)shape.Width / shape.Height;
        if (logs.Any(l => Math.Abs(Math.Log(aspect) - l) <= 0.05)) return null;
        string trained = string.Join(", ", known.Take(3).Select(k => $"{k.Width}x{k.Height}")) + (known.Count > 3 ? ", ..." : "");
        return string.Create(CultureInfo.InvariantCulture,
            $"{path}: {shape.Width}x{shape.Height} images are stretched to {working.Width}x{working.Height} differently from the "
                + $"model's training images ({trained}): crop or resize new images to the training images' shape, or train a new model");
    }
}
