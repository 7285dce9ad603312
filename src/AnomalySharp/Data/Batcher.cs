using AnomalySharp.Runtime;
using AnomalySharp.Diagnostics;
using static TorchSharp.torch;

namespace AnomalySharp.Data;

/// <summary>
/// Turns samples into batches: the files of the next batch are decoded on all cores while the current batch is
/// being processed, then resized as tensors.
/// </summary>
public sealed class Batcher
{
    readonly int _imageSize;
    readonly int _batchSize;
    readonly bool _skipBadImages;

    /// <summary>Images that were skipped (with the reason), when skipping is on.</summary>
    public List<string> Skipped { get; } = new();

    /// <summary>Creates a batcher.</summary>
    public Batcher(int imageSize, int batchSize, bool skipBadImages = false)
    {
        if (imageSize < 32) throw new AnomalySharpException($"image size must be at least 32, got {imageSize}");
        if (batchSize < 1) throw new AnomalySharpException($"batch size must be at least 1, got {batchSize}");
        _imageSize = imageSize; _batchSize = batchSize; _skipBadImages = skipBadImages;
    }

    sealed record Decoded(AnomalySample Sample, DecodedImage? Image, DecodedImage? Mask, string? Error);

    /// <summary>Enumerates batches in sample order. Each batch must be disposed by the caller.</summary>
    public IEnumerable<ImageBatch> Enumerate(IReadOnlyList<AnomalySample> samples, bool loadMasks)
    {
        var chunks = samples.Chunk(_batchSize).ToList();
        if (chunks.Count == 0) yield break;
        Task<Decoded[]> next = Task.Run(() => DecodeAll(chunks[0], loadMasks));
        for (int c = 0; c < chunks.Count; c++)
        {
            Decoded[] decoded = next.GetAwaiter().GetResult();
            if (c + 1 < chunks.Count)
            {
                var chunk = chunks[c + 1];
                next = Task.Run(() => DecodeAll(chunk, loadMasks));
            }
            var good = new List<Decoded>();
            foreach (var d in decoded)
            {
                if (d.Error == null) { good.Add(d); continue; }
                if (!_skipBadImages) throw new AnomalySharpException(d.Error + " (use --skip-bad-images to go on without it)");
                Skipped.Add(d.Error);
            }
            if (good.Count == 0) continue;
            // No garbage collection while the consumer runs TorchSharp on this batch (see NativeCallGuard).
            using (NativeCallGuard.Enter())
                yield return ToBatch(good, loadMasks);
        }
    }

    ImageBatch ToBatch(List<Decoded> items, bool loadMasks)
    {
        using var scope = NewDisposeScope();
        var images = stack(items.Select(d => ImageIO.ToTensor(d.Image!, _imageSize)).ToArray());
        Tensor? masks = null;
        if (loadMasks)
            masks = stack(items.Select(d => d.Mask != null
                ? ImageIO.MaskToTensor(d.Mask, _imageSize)
                : zeros(1, _imageSize, _imageSize)).ToArray());
        var batch = new ImageBatch(items.Select(d => d.Sample).ToList(), images, masks,
            items.Select(d => (d.Image!.Width, d.Image.Height)).ToList());
        foreach (var d in items) { d.Image!.Dispose(); d.Mask?.Dispose(); }
        images.MoveToOuterDisposeScope();
        masks?.MoveToOuterDisposeScope();
        return batch;
    }

    static Decoded[] DecodeAll(AnomalySample[] chunk, bool loadMasks)
    {
        var result = new Decoded[chunk.Length];
        Parallel.For(0, chunk.Length, i => result[i] = DecodeOne(chunk[i], loadMasks));
        return result;
    }

    static Decoded DecodeOne(AnomalySample sample, bool loadMasks)
    {
        DecodedImage image;
        try { image = ImageIO.DecodePooled(sample.ImagePath); }
        catch (AnomalySharpException e) { return new Decoded(sample, null, null, e.Message); }
        if (!loadMasks || sample.MaskPath == null) return new Decoded(sample, image, null, null);
        DecodedImage mask;
        try { mask = ImageIO.DecodePooled(sample.MaskPath); }
        catch (AnomalySharpException e) { image.Dispose(); return new Decoded(sample, null, null, e.Message); }
        if (mask.Width != image.Width || mask.Height != image.Height)
        {
            image.Dispose(); mask.Dispose();
            return new Decoded(sample, null, null,
                $"{sample.MaskPath}: mask is {mask.Width}x{mask.Height} but its image {sample.ImagePath} is {image.Width}x{image.Height}");
        }
        return new Decoded(sample, image, mask, null);
    }
}
