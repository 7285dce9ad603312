using static TorchSharp.torch;

namespace AnomalySharp.Components;

/// <summary>
/// Exact k-nearest-neighbour search of query rows against a bank of rows by blocked matrix products
/// (‖q‖² + ‖b‖² − 2·q·bᵀ), keeping a running top-k: memory is queries × block, never queries × bank.
/// </summary>
public sealed class NearestNeighbors : IDisposable
{
    readonly Tensor _bank;       // [K,D] float32
    readonly Tensor _bankNorms;  // [K]
    readonly bool _ownsBank;
    /// <summary>Elements of one distance block (queries × bank rows).</summary>
    public long BlockElements { get; init; } = 32L << 20;

    /// <summary>Number of rows in the bank.</summary>
    public long Count => _bank.shape[0];

    /// <summary>Indexes a bank [K,D]: a contiguous float32 bank is used in place (the caller keeps ownership), any other is converted.</summary>
    public NearestNeighbors(Tensor bank)
    {
        using var scope = NewDisposeScope();
        _ownsBank = bank.dtype != ScalarType.Float32 || !bank.is_contiguous();
        _bank = _ownsBank ? bank.to_type(ScalarType.Float32).contiguous().DetachFromDisposeScope() : bank;
        _bankNorms = _bank.square().sum(new long[] { 1 }).DetachFromDisposeScope();
    }

    /// <summary>Euclidean distances [M,k] (ascending) and bank indices [M,k] of the k nearest rows for queries [M,D].</summary>
    public (Tensor Distances, Tensor Indices) Search(Tensor queries, int k)
    {
        if (k < 1 || k > Count) throw new ArgumentOutOfRangeException(nameof(k));
        using var scope = NewDisposeScope();
        var q = queries.to_type(ScalarType.Float32).contiguous();
        long m = q.shape[0], total = Count;
        long block = Math.Max(k, Math.Min(total, BlockElements / Math.Max(1, m)));
        // No implicit Scalars (hidden alpha/beta, pow(2), + long): TorchSharp 0.107 can free them mid-call.
        var qNorms = q.square().sum(new long[] { 1 }, keepdim: true);
        Tensor? bestD = null, bestI = null;
        for (long start = 0; start < total; start += block)
        {
            using var inner = NewDisposeScope();
            long len = Math.Min(block, total - start);
            var b = _bank.narrow(0, start, len);
            var d2 = q.mm(b.t());
            d2.mul_(SafeOps.MinusTwo);
            SafeOps.AddInPlace(d2, qNorms);
            SafeOps.AddInPlace(d2, _bankNorms.narrow(0, start, len).unsqueeze(0));
            int kk = (int)Math.Min(k, len);
            var (vals, idx) = d2.topk(kk, dim: 1, largest: false, sorted: true);
            SafeOps.AddInPlace(idx, start);
            if (bestD is null) { bestD = vals; bestI = idx; }
            else
            {
                var allD = cat(new[] { bestD, vals }, 1);
                var allI = cat(new[] { bestI!, idx }, 1);
                var (v2, pos) = allD.topk(k, dim: 1, largest: false, sorted: true);
                bestD = v2; bestI = allI.gather(1, pos);
            }
            bestD = bestD.MoveToOuterDisposeScope(); bestI = bestI!.MoveToOuterDisposeScope();
        }
        var distances = bestD!.relu().sqrt(); // relu: clamp at 0 without a Scalar
        return (distances.MoveToOuterDisposeScope(), bestI!.MoveToOuterDisposeScope());
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsBank) _bank.Dispose();
        _bankNorms.Dispose();
    }
}
