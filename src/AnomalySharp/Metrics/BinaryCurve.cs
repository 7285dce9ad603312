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
        using var scope = NewDisposeScope();
        var s = scores.flatten().to_type(ScalarType.Float32);
        var y = labels.flatten().to_type(ScalarType.Bool);
        var (sorted, order) = s.sort(descending: true);
        var ySorted = y.index_select(0, order);
        var positives = (positiveWeights is null ? ySorted.to_type(ScalarType.Float64)
            : positiveWeights.flatten().to_type(ScalarType.Float64).index_select(0, order));
        var tp = positives.cumsum(0);
        var fp = ySorted.logical_not().to_type(ScalarType.Float64).cumsum(0);
        long n = sorted.numel();
        var last = ones(n, dtype: ScalarType.Bool);
        if (n > 1) last.narrow(0, 0, n - 1).copy_(sorted.narrow(0, 0, n - 1).ne(sorted.narrow(0, 1, n - 1)));
        var idx = last.nonzero().flatten();
        double pos = positiveWeights is null ? y.sum().to_type(ScalarType.Float64).item<double>() : tp[-1].item<double>();
        double neg = fp[-1].item<double>();
        return new BinaryCurve(tp.index_select(0, idx).MoveToOuterDisposeScope(), fp.index_select(0, idx).MoveToOuterDisposeScope(),
            sorted.index_select(0, idx).MoveToOuterDisposeScope(), pos, neg);
    }

    /// <inheritdoc />
    public void Dispose() { TruePositives.Dispose(); FalsePositives.Dispose(); Thresholds.Dispose(); }
}
