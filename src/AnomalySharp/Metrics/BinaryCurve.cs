using static TorchSharp.torch;

namespace AnomalySharp.Metrics;

/// <summary>
/// Cumulative true and false positives at every distinct score threshold, from one descending sort (the only
/// O(N log N) step; everything after is a cumulative sum). Works on millions of pixels as tensors.
/// Positives are items with score ≥ threshold.
/// </summary>
public sealed class BinaryCurve : IDisposable
{
    /// <summary>True positives at each distinct threshold, ascending in count (float64).</summary>
    public Tensor TruePositives { get; }
    /// <summary>False positives at each distinct threshold (float64).</summary>
    public Tensor FalsePositives { get; }
    /// <summary>The thresholds, descending (float32).</summary>
    public Tensor Thresholds { get; }
    /// <summary>Number of positive items.</summary>
    public double Positives { get; }
    /// <summary>Number of negative items.</summary>
    public double Negatives { get; }

    BinaryCurve(Tensor tp, Tensor fp, Tensor thresholds, double positives, double negatives)
    {
        TruePositives = tp; FalsePositives = fp; Thresholds = thresholds; Positives = positives; Negatives = negatives;
    }

    /// <summary>Builds the curve for scores and 0/1 labels of the same number of elements.</summary>
    public static BinaryCurve Compute(Tensor scores, Tensor labels) => Compute(scores, labels, null);

    /// <summary>
    /// As <see cref="Compute(Tensor, Tensor)"/>, but each positive contributes <paramref name="positiveWeights"/>
    /// instead of 1 (used for per-region overlap).
    /// </summary>
    public static BinaryCurve Compute(Tensor scores, Tensor labels, Tensor? positiveWeights)
    {
        if (scores.numel() != labels.numel()) throw new ArgumentException("scores and labels differ in size");
        if (scores.numel() == 0) throw new ArgumentException("no scores");
        using var guard = Diagnostics.NativeCallGuard.Enter(); // the arithmetic below passes implicit Scalars (see NativeCallGuard)
        // Millions of pixels: free each intermediate as soon as it is used, so the peak stays near three
        // full-length tensors beyond the sort itself.
        using var scope = NewDisposeScope();
        var y = labels.flatten().to_type(ScalarType.Bool);
        Tensor sorted, order;
        using (var s = scores.flatten().to_type(ScalarType.Float32)) (sorted, order) = s.sort(descending: true);
        var ySorted = y.index_select(0, order);
        Tensor tp;
        using (var weights = positiveWeights is null ? ySorted.to_type(ScalarType.Int32)
                   : positiveWeights.flatten().to_type(ScalarType.Float64).index_select(0, order))
            tp = weights.cumsum(0, type: positiveWeights is null ? ScalarType.Int64 : ScalarType.Float64);
        order.Dispose();
        long n = sorted.numel();
        // The last position of each run of equal scores is where a threshold's count is complete.
        Tensor last;
        using (var differs = sorted.narrow(0, 0, n - 1).ne(sorted.narrow(0, 1, n - 1)))
            last = cat(new[] { differs, ones(1, dtype: ScalarType.Bool) });
        var idx = last.nonzero().flatten();
        last.Dispose();
        Tensor fp;
        if (positiveWeights is null)
            fp = (idx + 1).to_type(ScalarType.Float64) - tp.index_select(0, idx).to_type(ScalarType.Float64);
        else
            using (var negatives = ySorted.logical_not().to_type(ScalarType.Int32))
            using (var cumulative = negatives.cumsum(0, type: ScalarType.Int64))
                fp = cumulative.index_select(0, idx).to_type(ScalarType.Float64);
        ySorted.Dispose();
        var tpAt = tp.index_select(0, idx).to_type(ScalarType.Float64);
        tp.Dispose();
        var thresholds = sorted.index_select(0, idx);
        sorted.Dispose();
        double pos = positiveWeights is null ? y.sum().to_type(ScalarType.Float64).item<double>() : tpAt[-1].item<double>();
        double neg = fp[-1].item<double>();
        return new BinaryCurve(tpAt.MoveToOuterDisposeScope(), fp.MoveToOuterDisposeScope(), thresholds.MoveToOuterDisposeScope(), pos,
            neg);
    }

    /// <inheritdoc />
    public void Dispose() { TruePositives.Dispose(); FalsePositives.Dispose(); Thresholds.Dispose(); }
}
