using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace AnomalySharp.Metrics;

/// <summary>
/// The threshold curve of every pixel of an evaluation (38 M at 582 images of 256², 419 M at 100 images of 2048²)
/// from one sort, built and walked in pieces. Each pixel becomes one 64-bit key: its score's order-preserving bits
/// (descending) above its <em>code</em>: 0 outside every defect, else the number of its defect region (8-connected, per
/// image, numbered across the set). Keys are sorted in runs of bounded length, spilled to a temporary file when there
/// is more than one (<see cref="SortedRuns"/>), and <see cref="Points"/> merges them in chunks, yielding for each
/// distinct threshold the cumulative (weighted) positives and negatives scored at or above it. Neither the maps nor
/// the masks are ever held whole: memory is one run plus one chunk, whatever the number of pixels. The thresholds
/// are decoded from the keys, so the values are those of <see cref="BinaryCurve"/> (the same per-point arithmetic;
/// only the order of the final sums differs).
/// </summary>
internal sealed class CurveWalk : IDisposable
{
    /// <summary>Keys per walked chunk.</summary>
    public const long DefaultChunk = 1L << 20;
    /// <summary>Keys per sorted run (512 MB); a set with more pixels spills its runs to a temporary file.</summary>
    public const long DefaultRunLength = 1L << 26;

    readonly SortedRuns _keys;
    readonly long _chunk;
    readonly int[] _regionSizes;

    /// <summary>Number of pixels.</summary>
    public long Count => _keys.Count;
    /// <summary>Pixels inside a defect region.</summary>
    public long PositivePixels { get; }
    /// <summary>Pixels outside every defect region.</summary>
    public long Negatives => Count - PositivePixels;
    /// <summary>Pixels per image.</summary>
    public long PlaneSize { get; }
    /// <summary>The size in pixels of each defect region, in code order (code 1 first).</summary>
    public IReadOnlyList<int> RegionSizes => _regionSizes;
    /// <summary>The smallest and largest score.</summary>
    public float Min { get; }
    /// <inheritdoc cref="Min"/>
    public float Max { get; }
    /// <summary>Whether the sort went to a temporary file.</summary>
    public bool Spilled => _keys.Spilled;

    CurveSummary? _summary;

    /// <summary>AUROC, AUPR and the best F1 of these pixels (<see cref="CurveSummary"/>), walked once and kept.</summary>
    public CurveSummary Summary => _summary ??= CurveSummary.Compute(this);

    /// <summary>Whether <see cref="Summary"/> has been walked already.</summary>
    public bool HasSummary => _summary is not null;

    /// <summary>Keeps a summary that a shared walk computed (<see cref="CurveSummary.Builder"/>).</summary>
    public void KeepSummary(CurveSummary summary) => _summary ??= summary;

    CurveWalk(SortedRuns keys, long chunk, int[] regionSizes, long positives, long plane, float min, float max)
    {
        _keys = keys; _chunk = chunk; _regionSizes = regionSizes; PositivePixels = positives; PlaneSize = plane; Min = min; Max = max;
    }

    const long Low32 = 0xFFFFFFFFL, Sign32 = 0x80000000L;
    // Explicit, rooted scalars for the mask codes, where a collection on another thread (parallel tests) once freed an
    // implicit one mid-call (TorchSharp 0.107; docs/architecture-notes.md).
    static readonly Scalar Half = 0.5.ToScalar(), Zero = 0L.ToScalar();

    /// <summary>Sorts maps [N,1,H,W] (or [N,H,W]) with their 0/1 masks, when given, once.</summary>
    public static CurveWalk Sort(Tensor maps, Tensor? masks = null, long chunk = DefaultChunk, long runLength = DefaultRunLength) =>
        Sort(new TensorPixels(maps, masks), chunk, runLength);

    /// <summary>
    /// Runs <paramref name="use"/> on <paramref name="sorted"/> (left open: its owner disposes it) or, without one, on a sort
    /// of <paramref name="pixels"/> made and disposed here: one sort serves the thresholds and the metrics of a run.
    /// </summary>
    public static T With<T>(CurveWalk? sorted, IPixelSource pixels, long runLength, Func<CurveWalk, T> use)
    {
        if (sorted != null) return use(sorted);
        using var own = Sort(pixels, runLength: runLength);
        return use(own);
    }

    /// <summary>Sorts every pixel of <paramref name="pixels"/> once, reading it image by image.</summary>
    public static CurveWalk Sort(IPixelSource pixels, long chunk = DefaultChunk, long runLength = DefaultRunLength)
    {
        if (chunk < 2) throw new ArgumentOutOfRangeException(nameof(chunk));
        using var guard = Diagnostics.NativeCallGuard.Enter(); // the arithmetic below passes implicit Scalars (see NativeCallGuard)
        var keys = new SortedRuns(runLength);
        var sizes = new List<int>();
        long plane = -1, positives = 0;
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        int[] labels = Array.Empty<int>();
        try
        {
            foreach (var (maps, masks) in pixels.Rows())
            {
                long n = maps.shape[0];
                int h = (int)maps.shape[^2], w = (int)maps.shape[^1];
                if (plane < 0) { plane = (long)h * w; labels = new int[plane]; }
                else if (plane != (long)h * w) throw new ArgumentException("maps differ in size");
                if (masks is not null && !masks.shape.SequenceEqual(maps.shape)) throw new ArgumentException("maps and masks differ "
                    + "in shape");
                for (long i = 0; i < n; i++)
                {
                    using var scope = NewDisposeScope();
                    var flat = maps[i].flatten().to_type(ScalarType.Float32).contiguous();
                    min = Math.Min(min, flat.min().item<float>());
                    max = Math.Max(max, flat.max().item<float>());
                    var codes = masks is null ? null : Codes(masks[i], w, h, labels, sizes, ref positives);
                    for (long start = 0; start < plane; start += chunk)
                    {
                        using (NewDisposeScope())
                        {
                            long len = Math.Min(chunk, plane - start);
                            var key = Descending(flat.narrow(0, start, len)).to_type(ScalarType.Int64).bitwise_left_shift_(ThirtyTwo);
                            if (codes is not null) key.add_(codes.narrow(0, start, len));
                            keys.Add(MemoryMarshal.Cast<byte, long>(key.bytes));
                        }
                    }
                }
            }
            // Each image's temporaries are the same few megabytes, reused image after image; they go back once, here.
            // (Trimming after every image cost 8.5 of the 14 s this sort took at 582 x 256².)
            Runtime.NativeHeap.ReleaseIfLarge();
            if (keys.Count == 0) throw new ArgumentException("no scores");
            if (sizes.Count >= int.MaxValue) throw new ArgumentException("too many defect regions");
            keys.Complete();
            return new CurveWalk(keys, chunk, sizes.ToArray(), positives, plane, min, max);
        }
        catch
        {
            keys.Dispose();
            throw;
        }
    }

    /// <summary>IEEE bits made order-preserving, reversed for a descending sort and centred on zero (−0 counts as +0, as float
    /// comparison does), as int32: a float's bits b (signed) become b for b ≥ 0 and b with its lower 31 bits flipped for b &lt; 0,
    /// which orders as the floats do; the bitwise not reverses that. In place on one int32 copy: five passes where int64
    /// arithmetic took thirteen.</summary>
    static Tensor Descending(Tensor scores)
    {
        var raw = empty(scores.numel(), dtype: ScalarType.Int32);
        scores.add(ZeroFloat).contiguous().bytes.CopyTo(raw.bytes); // the float bits, reinterpreted
        var flip = raw.bitwise_right_shift(ThirtyOne).bitwise_and_(Max31); // arithmetic shift: 0x7FFFFFFF for negatives, else 0
        return raw.bitwise_xor_(flip).bitwise_not_();
    }

    // Rooted operands of the key arithmetic (see Half and Zero above), kept out of whatever dispose scope first touches the type.
    static readonly Tensor ThirtyOne = tensor(31, ScalarType.Int32).DetachFromDisposeScope(),
        ThirtyTwo = tensor(32L).DetachFromDisposeScope(), Max31 = tensor(int.MaxValue).DetachFromDisposeScope();
    static readonly Scalar ZeroFloat = 0f.ToScalar();

    /// <summary>The scores whose <see cref="Descending"/> values are <paramref name="descending"/> (float32).</summary>
    static Tensor Scores(Tensor descending)
    {
        var ascending = descending.add(Sign32).bitwise_not().bitwise_and(Low32);
        var bits = where(ascending.ge(Sign32), ascending.sub(Sign32), ascending.bitwise_not().bitwise_and(Low32));
        var raw = bits.to_type(ScalarType.Int32).contiguous(); // values ≥ 2³¹ wrap to the same 32 bits
        var scores = empty(raw.numel(), dtype: ScalarType.Float32);
        raw.bytes.CopyTo(scores.bytes);
        return scores;
    }

    /// <summary>Each pixel's code (0 outside defects, else its region's number across the set), as int64; records the new regions'
    /// sizes.</summary>
    static Tensor Codes(Tensor mask, int w, int h, int[] labels, List<int> sizes, ref long positives)
    {
        var bytes = mask.flatten().gt(Half).to_type(ScalarType.Byte).contiguous();
        var span = bytes.bytes;
        if (!span.ContainsAnyExcept((byte)0)) return zeros(span.Length, dtype: ScalarType.Int64);
        int count = ConnectedComponents.Label(span, w, h, labels);
        int first = sizes.Count;
        var regionSize = new int[count + 1];
        foreach (int l in labels) regionSize[l]++;
        for (int r = 1; r <= count; r++) { sizes.Add(regionSize[r]); positives += regionSize[r]; }
        var local = tensor(labels).to_type(ScalarType.Int64);
        using var offset = ((long)first).ToScalar();
        return where(local.gt(Zero), local.add(offset), local);
    }

    /// <summary>
    /// One chunk of the curve: the cumulative true positives under each weighting asked for and the false positives (float64),
    /// and the thresholds (float32, descending) when asked for.
    /// </summary>
    public readonly record struct Chunk(Tensor[] TruePositives, Tensor FalsePositives, Tensor? Thresholds);

    /// <summary>
    /// Walks the curve once for several weightings of the defect pixels: with a null entry each counts 1; with a weight
    /// tensor (float64, one entry per code: entry 0 unused, entry r the weight of region r's pixels), its region's weight.
    /// The thresholds are decoded only when <paramref name="thresholds"/> is set. Each chunk's tensors live until the next
    /// step; a caller may stop early.
    /// </summary>
    public IEnumerable<Chunk> Points(IReadOnlyList<Tensor?> weightings, bool thresholds = true)
    {
        if (weightings.Count == 0) throw new ArgumentException("at least one weighting is needed");
        foreach (var w in weightings)
            if (w is not null && w.numel() != _regionSizes.Length + 1) throw new ArgumentException("one weight per region code is needed");
        var weights = weightings.Select(w => w?.to_type(ScalarType.Float64)).ToArray();
        try
        {
            foreach (var chunk in Walk(weights, thresholds)) yield return chunk;
        }
        finally
        {
            foreach (var w in weights) w?.Dispose();
        }
    }

    IEnumerable<Chunk> Walk(Tensor?[] weights, bool withThresholds)
    {
        var reader = _keys.Open();
        var buffer = new long[_chunk + 1];
        int have = reader.Fill(buffer), consumed = 0;
        var tpCarry = new double[weights.Length];
        double fpCarry = 0;
        while (have > consumed)
        {
            // Keep one key beyond the chunk (when there is one): a run of equal scores may continue past it.
            if (consumed > 0)
            {
                Array.Copy(buffer, consumed, buffer, 0, have - consumed);
                have -= consumed; consumed = 0;
            }
            if (have < buffer.Length) have += reader.Fill(buffer.AsSpan(have));
            bool more = have > _chunk;
            long len = more ? _chunk : have;
            Chunk chunk;
            using (var scope = NewDisposeScope())
            {
                var keys = empty(have, dtype: ScalarType.Int64);
                MemoryMarshal.AsBytes(buffer.AsSpan(0, have)).CopyTo(keys.bytes);
                var score = keys.bitwise_right_shift(32);                       // descending, equal where the scores are
                var code = keys.narrow(0, 0, len).bitwise_and(Low32);
                var positive = code.ne(0);
                // The last position of each run of equal scores is where a threshold's count is complete.
                var ends = more
                    ? score.narrow(0, 0, len).ne(score.narrow(0, 1, len))
                    : cat(new[] { score.narrow(0, 0, len - 1).ne(score.narrow(0, 1, len - 1)), ones(1, dtype: ScalarType.Bool) });
                var idx = ends.nonzero().flatten();
                var tps = new Tensor[weights.Length];
                for (int k = 0; k < weights.Length; k++)
                {
                    var tp = weights[k] is { } w
                        ? w.index_select(0, code).cumsum(0, type: ScalarType.Float64)
                        : positive.to_type(ScalarType.Int32).cumsum(0, type: ScalarType.Int64).to_type(ScalarType.Float64);
                    if (tpCarry[k] != 0) tp = Components.SafeOps.AddInPlace(tp, tpCarry[k]);
                    tpCarry[k] = tp[len - 1].item<double>();
                    tps[k] = tp.index_select(0, idx).MoveToOuterDisposeScope();
                }
                var fp = positive.logical_not().to_type(ScalarType.Int32).cumsum(0, type: ScalarType.Int64).to_type(ScalarType.Float64);
                if (fpCarry != 0) fp = Components.SafeOps.AddInPlace(fp, fpCarry);
                fpCarry = fp[len - 1].item<double>();
                chunk = new Chunk(tps, fp.index_select(0, idx).MoveToOuterDisposeScope(),
                    withThresholds ? Scores(score.index_select(0, idx)).MoveToOuterDisposeScope() : null);
            }
            consumed = (int)len;
            try { if (chunk.FalsePositives.numel() > 0) yield return chunk; }
            finally
            {
                foreach (var t in chunk.TruePositives) t.Dispose();
                chunk.FalsePositives.Dispose();
                chunk.Thresholds?.Dispose();
            }
            // No malloc_trim per chunk: every chunk's temporaries have the same sizes, so the heap reuses one chunk's
            // worth throughout; trimming each time made a walk of 38 M pixels 5x slower. They go back at Dispose.
        }
    }

    /// <summary>
    /// Each code's weight for the per-region overlap: 1/(region size · number of counted regions) (rounded to float32, as
    /// one weight per pixel always was), 0 for regions larger than <paramref name="maxRegionFraction"/> of their image;
    /// and the number of counted regions.
    /// </summary>
    public (Tensor Weights, int Regions) RegionWeights(double maxRegionFraction = 1)
    {
        double limit = maxRegionFraction * PlaneSize;
        int counted = _regionSizes.Count(s => s <= limit);
        var w = new double[_regionSizes.Length + 1];
        for (int r = 0; r < _regionSizes.Length; r++)
            if (_regionSizes[r] <= limit) w[r + 1] = (float)(1.0 / ((double)_regionSizes[r] * counted));
        return (tensor(w), counted);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _keys.Dispose();
        Runtime.NativeHeap.ReleaseIfLarge(); // hundreds of megabytes for every pixel: hand them back at once
    }
}
