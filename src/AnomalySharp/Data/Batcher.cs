using AnomalySharp.Components;
using AnomalySharp.Diagnostics;
using AnomalySharp.Runtime;
using static TorchSharp.torch;

namespace AnomalySharp.Data;

/// <summary>
/// Turns samples into batches: the files of the next batch are decoded and resized (by the runtime's preprocessing
/// graph, <see cref="ImagePreprocessor"/>, so every path sees the same floats) on the decode threads while the current
/// batch is being processed.
/// </summary>
internal sealed class Batcher
{
    readonly int _height, _width;
    int _batchSize;
    readonly bool _skipBadImages;
    readonly CancellationToken _cancellation;

    /// <summary>Images that were skipped (with the reason), when skipping is on.</summary>
    public List<string> Skipped { get; } = new();

    /// <summary>The paths of the images that were skipped.</summary>
    public HashSet<string> SkippedPaths { get; } = new(StringComparer.Ordinal);

    /// <summary>Called with the reason each time an image is skipped (a warning for the user).</summary>
    public Action<string>? OnSkip { get; init; }

    /// <summary>Appended to the error for a bad image when skipping is off (how to go on without it); empty: nothing.</summary>
    public string SkipHint { get; init; } = $" (use {OptionText.Name("skipBadImages")} to go on without it)";

    /// <summary>
    /// Threads that decode the next batch while the current one is computed (0 = every core). The engine gives it
    /// the run's thread count, so --threads N bounds decoding as it bounds the arithmetic.
    /// </summary>
    public int DecodeThreads { get; init; }

    /// <summary>Creates a batcher; cancelling <paramref name="cancellation"/> stops it before the next batch.</summary>
    public Batcher(int imageSize, int batchSize, bool skipBadImages = false, CancellationToken cancellation = default)
        : this(imageSize, imageSize, batchSize, skipBadImages, cancellation) { }

    /// <summary>As <see cref="Batcher(int, int, bool, CancellationToken)"/>, resizing images to <paramref name="height"/> × <paramref
    /// name="width"/>.</summary>
    public Batcher(int height, int width, int batchSize, bool skipBadImages = false, CancellationToken cancellation = default)
    {
        if (Math.Min(height, width) < 32) throw new AnomalySharpException($"image size must be at least 32, got {height}x{width}");
        if (batchSize < 1) throw new AnomalySharpException($"batch size must be at least 1, got {batchSize}");
        _height = height; _width = width; _batchSize = batchSize; _skipBadImages = skipBadImages; _cancellation = cancellation;
    }

    sealed record Decoded(AnomalySample Sample, float[]? Input, (int Width, int Height) Size, DecodedImage? Mask, string? Error)
    {
        public void Release()
        {
            if (Input != null) ReturnInput(Input);
            Mask?.Dispose();
        }
    }

    /// <summary>
    /// Enumerates batches in sample order. Each batch must be disposed by the caller, who works on it inside the
    /// library's native-call boundary (<see cref="NativeCallGuard.HandOut{T}"/>). Free native pages go back to the
    /// system between batches (fit and evaluation; the trainer's steps over cached features trim once per epoch).
    /// </summary>
    public IEnumerable<ImageBatch> Enumerate(IReadOnlyList<AnomalySample> samples, bool loadMasks) =>
        NativeCallGuard.HandOut(Prepare(samples, loadMasks), trimBetween: true);

    /// <summary>Decodes ahead and yields, per batch, the step that turns its decoded images into tensors.</summary>
    IEnumerable<Func<ImageBatch>> Prepare(IReadOnlyList<AnomalySample> samples, bool loadMasks)
    {
        var chunks = samples.Chunk(_batchSize).ToList();
        if (chunks.Count == 0) yield break;
        _cancellation.ThrowIfCancellationRequested();
        Task<Decoded[]> next = Task.Run(() => DecodeAll(chunks[0], loadMasks));
        for (int c = 0; c < chunks.Count; c++)
        {
            Decoded[] decoded = next.GetAwaiter().GetResult();
            if (_cancellation.IsCancellationRequested)
            {
                foreach (var d in decoded) d.Release();
                _cancellation.ThrowIfCancellationRequested();
            }
            if (c + 1 < chunks.Count)
            {
                var chunk = chunks[c + 1];
                next = Task.Run(() => DecodeAll(chunk, loadMasks));
            }
            var good = new List<Decoded>();
            foreach (var d in decoded)
            {
                if (d.Error == null) { good.Add(d); continue; }
                if (!_skipBadImages)
                {
                    foreach (var g in decoded) g.Release();
                    throw new AnomalySharpException(d.Error + SkipHint);
                }
                Skipped.Add(d.Error);
                SkippedPaths.Add(d.Sample.ImagePath);
                OnSkip?.Invoke(d.Error);
            }
            if (good.Count == 0) continue;
            yield return () => ToBatch(good, loadMasks);
        }
    }

    ImageBatch ToBatch(List<Decoded> items, bool loadMasks)
    {
        using var scope = NewDisposeScope();
        int plane = 3 * _height * _width;
        var images = empty(items.Count, 3, _height, _width);
        var span = TensorSpan.Floats(images);
        for (int i = 0; i < items.Count; i++) items[i].Input.AsSpan(0, plane).CopyTo(span.Slice(i * plane, plane));
        Tensor? masks = null;
        if (loadMasks)
            masks = stack(items.Select(d => d.Mask != null
                ? ImageIO.MaskToTensor(d.Mask, _height, _width)
                : zeros(1, _height, _width)).ToArray());
        var batch = new ImageBatch(items.Select(d => d.Sample).ToList(), images, masks, items.Select(d => d.Size).ToList());
        foreach (var d in items) d.Release();
        images.MoveToOuterDisposeScope();
        masks?.MoveToOuterDisposeScope();
        return batch;
    }

    Decoded[] DecodeAll(AnomalySample[] chunk, bool loadMasks)
    {
        var result = new Decoded[chunk.Length];
        Parallel.For(0, chunk.Length, new ParallelOptions { MaxDegreeOfParallelism = ComputeThreads.Resolve(DecodeThreads) },
            i => result[i] = DecodeOne(chunk[i], loadMasks, _height, _width));
        return result;
    }

    /// <summary>Inputs up to this many floats (1,182² RGB) come from the shared pool; larger ones are plain arrays.</summary>
    const int PooledInputFloats = 1 << 22;

    // The shared pool keeps returned arrays per core for the life of the process: dozens of 67 MB inputs at 2048²
    // would stay resident after the evaluation that used them. Large inputs are left to the collector instead.
    static float[] RentInput(int length)
        => length <= PooledInputFloats ? System.Buffers.ArrayPool<float>.Shared.Rent(length) : new float[length];

    static void ReturnInput(float[] input)
    {
        if (input.Length <= PooledInputFloats) System.Buffers.ArrayPool<float>.Shared.Return(input);
    }

    /// <summary>
    /// This batcher with batches of at most <paramref name="maxPixels"/> working-size pixels (at least one image): for
    /// inference, where the batch size is only a matter of throughput, so 2048² images come 4 at a time, not 16
    /// (decoded ahead, that is 1.6 GB of inputs).
    /// </summary>
    public Batcher WithMaxPixels(long maxPixels)
    {
        int fit = (int)Math.Clamp(maxPixels / ((long)_height * _width), 1, _batchSize);
        if (fit == _batchSize) return this;
        var copy = (Batcher)MemberwiseClone();
        copy._batchSize = fit;
        return copy;
    }

    static Decoded DecodeOne(AnomalySample sample, bool loadMasks, int height, int width)
    {
        int decodeSide = Math.Max(height, width); // a reduced-scale decode keeps at least 4x the larger side
        float[] input;
        (int, int) size;
        try
        {
            using var image = ImageIO.DecodePooled(sample.ImagePath, decodeSide);
            input = RentInput(3 * height * width);
            ImageIO.Preprocessor(height, width).Prepare(image, input);
            size = (image.Width, image.Height);
            if (!loadMasks || sample.MaskPath == null) return new Decoded(sample, input, size, null, null);
            DecodedImage mask;
            try { mask = ImageIO.DecodePooled(sample.MaskPath, decodeSide); }
            catch (AnomalySharpException e) { ReturnInput(input); return new Decoded(sample, null, default, null, e.Message); }
            if (mask.SourceWidth != image.SourceWidth || mask.SourceHeight != image.SourceHeight)
            {
                ReturnInput(input); mask.Dispose();
                return new Decoded(sample, null, default, null,
                    $"{sample.MaskPath}: mask is {mask.SourceWidth}x{mask.SourceHeight} but its image {sample.ImagePath} is "
                        + $"{image.SourceWidth}x{image.SourceHeight}");
            }
            return new Decoded(sample, input, size, mask, null);
        }
        catch (AnomalySharpException e) { return new Decoded(sample, null, default, null, e.Message); }
    }
}
