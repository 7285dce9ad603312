using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace AnomalySharp.Metrics;

/// <summary>
/// The threshold curve of many scores (every pixel of an evaluation: 38 M at 582 images of 256²) without full-length
/// cumulative tensors: one descending sort is kept, as one 64-bit key per score (its order-preserving bits above its
/// position, sorted in place: 8 bytes per score, where a tensor sort with indices needed about 40), and
/// <see cref="Points"/> walks it in chunks, yielding for each distinct threshold the cumulative (weighted) positives and negatives scored at or
/// above it. The consumers fold the chunks into their sums, so memory is the sort plus one chunk, whatever the
/// number of pixels; the values are those of <see cref="BinaryCurve"/> (the same per-point arithmetic, only the
/// order of the final sums differs).
/// </summary>
public sealed unsafe class CurveWalk : IDisposable
{
    /// <summary>Scores per chunk.</summary>
    public const long DefaultChunk = 1L << 20;

    readonly Tensor _scores; // float32, flat, in the caller's order
    long* _keys;             // native, freed on dispose; ascending: descending score (high 32 bits), then position (low 32 bits)
    readonly long _chunk;

    /// <summary>Number of scores.</summary>
    public long Count { get; }

    CurveWalk(Tensor scores, long* keys, long count, long chunk)
    {
        _scores = scores; _keys = keys; _chunk = chunk; Count = count;
    }

    Span<long> Keys(long start, long length) => new(_keys + start, checked((int)length));

    const long Low32 = 0xFFFFFFFFL, Sign32 = 0x80000000L, Shift32 = 1L << 32;

    /// <summary>Sorts <paramref name="scores"/> (any shape) once.</summary>
    public static CurveWalk Sort(Tensor scores, long chunk = DefaultChunk)
    {
        long n = scores.numel();
        if (n == 0) throw new ArgumentException("no scores");
        if (n > Array.MaxLength) throw new ArgumentException($"{n} scores are more than one sort can hold");
        if (chunk < 2) throw new ArgumentOutOfRangeException(nameof(chunk));
        var flat = scores.flatten().to_type(ScalarType.Float32).contiguous().DetachFromDisposeScope();
        // Native memory, so the hundreds of megabytes go back the moment the walk is disposed, not at a later collection.
        var keys = (long*)NativeMemory.Alloc((nuint)n, sizeof(long));
        var walk = new CurveWalk(flat, keys, n, chunk);
        try
        {
            for (long start = 0; start < n; start += chunk)
            {
                using (NewDisposeScope())
                {
                    long len = Math.Min(chunk, n - start);
                    // IEEE bits made order-preserving as unsigned 32-bit (−0 counts as +0, as float comparison does), then
                    // reversed for a descending sort and centred on zero so that key = desc·2³² + position stays in range.
                    var raw = empty(len, dtype: ScalarType.Int32);
                    flat.narrow(0, start, len).add(0f).bytes.CopyTo(raw.bytes); // the float bits, reinterpreted
                    var bits = raw.to_type(ScalarType.Int64).bitwise_and(Low32);
                    var ascending = where(bits.ge(Sign32), bits.bitwise_not().bitwise_and(Low32), bits.bitwise_or(Sign32));
                    var descending = ascending.bitwise_not().bitwise_and(Low32).sub(Sign32);
                    var key = descending.mul(Shift32).add(arange(start, start + len, dtype: ScalarType.Int64));
                    MemoryMarshal.Cast<byte, long>(key.bytes).CopyTo(walk.Keys(start, len));
                }
                Runtime.NativeHeap.Release(); // glibc would keep each chunk's freed temporaries beside the keys
            }
            walk.Keys(0, n).Sort();
            return walk;
        }
        catch
        {
            walk.Dispose();
            throw;
        }
    }

    /// <summary>One chunk of the curve: cumulative true and false positives (float64) and the thresholds (float32, descending).</summary>
    public readonly record struct Chunk(Tensor TruePositives, Tensor FalsePositives, Tensor Thresholds);

    /// <summary>Totals of a labelling: (positives, weighted as the curve counts them; negatives).</summary>
    public static (double Positives, double Negatives) Totals(Tensor labels, Tensor? positiveWeights = null)
    {
        using var scope = NewDisposeScope();
        var y = labels.flatten().to_type(ScalarType.Bool);
        // Counted without a sum over booleans, which would widen every label to 64 bits first.
        long count = y.count_nonzero().item<long>();
        double negatives = y.numel() - count;
        double positives = positiveWeights is null ? count : positiveWeights.flatten().to_type(ScalarType.Float64).sum().item<double>();
        return (positives, negatives);
    }

    /// <summary>
    /// Walks the curve for 0/1 <paramref name="labels"/> (same number of elements as the scores). Each positive counts 1,
    /// or, with <paramref name="positiveWeights"/>, the weight given for its flat position (positions ascending, int64;
    /// weights float32 or float64; one entry per positive, so memory follows the positives, not the pixels).
    /// Each chunk's tensors live until the next step.
    /// </summary>
    public IEnumerable<Chunk> Points(Tensor labels, (Tensor Positions, Tensor Weights)? positiveWeights = null)
    {
        if (labels.numel() != Count) throw new ArgumentException("scores and labels differ in size");
        if (positiveWeights is var (p, wt) && (p.numel() != wt.numel() || p.dtype != ScalarType.Int64)) throw new ArgumentException("positions and weights differ");
        using var y = labels.flatten().to_type(ScalarType.Bool);
        using var positions = positiveWeights?.Positions.flatten();
        using var weights = positiveWeights?.Weights.flatten(); // float64 per chunk only
        double tpCarry = 0, fpCarry = 0;
        for (long start = 0; start < Count; start += _chunk)
        {
            long len = Math.Min(_chunk, Count - start);
            Chunk chunk;
            using (var scope = NewDisposeScope())
            {
                bool more = start + len < Count;
                var keys = empty(len + (more ? 1 : 0), dtype: ScalarType.Int64);
                Keys(start, keys.numel()).CopyTo(MemoryMarshal.Cast<byte, long>(keys.bytes));
                var score = keys.bitwise_right_shift(32);                       // descending, equal where the scores are
                var order = keys.narrow(0, 0, len).bitwise_and(Low32);
                var positive = y.index_select(0, order);
                var tp = weights is null
                    ? positive.to_type(ScalarType.Int32).cumsum(0, type: ScalarType.Int64).to_type(ScalarType.Float64)
                    : SparseWeights(positive, order, positions!, weights).cumsum(0, type: ScalarType.Float64);
                var fp = positive.logical_not().to_type(ScalarType.Int32).cumsum(0, type: ScalarType.Int64).to_type(ScalarType.Float64);
                if (tpCarry != 0) tp = Components.SafeOps.AddInPlace(tp, tpCarry);
                if (fpCarry != 0) fp = Components.SafeOps.AddInPlace(fp, fpCarry);
                // The last position of each run of equal scores is where a threshold's count is complete; a run may
                // continue into the next chunk, so the comparison looks one score ahead.
                var ends = more
                    ? score.narrow(0, 0, len).ne(score.narrow(0, 1, len))
                    : cat(new[] { score.narrow(0, 0, len - 1).ne(score.narrow(0, 1, len - 1)), ones(1, dtype: ScalarType.Bool) });
                var idx = ends.nonzero().flatten();
                tpCarry = tp[len - 1].item<double>();
                fpCarry = fp[len - 1].item<double>();
                chunk = new Chunk(tp.index_select(0, idx).MoveToOuterDisposeScope(), fp.index_select(0, idx).MoveToOuterDisposeScope(),
                    _scores.index_select(0, order.index_select(0, idx)).MoveToOuterDisposeScope());
            }
            try { if (chunk.Thresholds.numel() > 0) yield return chunk; }
            finally { chunk.TruePositives.Dispose(); chunk.FalsePositives.Dispose(); chunk.Thresholds.Dispose(); }
            Runtime.NativeHeap.Release(); // a chunk's tens of megabytes of temporaries go back before the next chunk's

        }
    }

    /// <summary>
    /// The chunk's weights in walk order: zero for negatives, the positive's weight (looked up by its position among the
    /// ascending <paramref name="positions"/>) for positives. The same values a dense weight per pixel would give.
    /// </summary>
    static Tensor SparseWeights(Tensor positive, Tensor order, Tensor positions, Tensor weights)
    {
        var w = zeros(order.numel(), dtype: ScalarType.Float64);
        var at = positive.nonzero().flatten();
        if (at.numel() == 0) return w;
        var k = searchsorted(positions, order.index_select(0, at));
        if (k.max().item<long>() >= positions.numel() || !positions.index_select(0, k.clamp_max(positions.numel() - 1)).eq(order.index_select(0, at)).all().item<bool>())
            throw new ArgumentException("a positive label has no weight");
        return w.index_put_(weights.index_select(0, k).to_type(ScalarType.Float64), at);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _scores.Dispose();
        if (_keys != null) { NativeMemory.Free(_keys); _keys = null; }
        Runtime.NativeHeap.Release(); // hundreds of megabytes for every pixel: hand them back at once
    }
}
