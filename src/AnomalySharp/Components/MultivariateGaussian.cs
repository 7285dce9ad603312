using static TorchSharp.torch;

namespace AnomalySharp.Components;

/// <summary>
/// One multivariate Gaussian per position, fitted by streaming: batches of embeddings [B,D,P] are folded into
/// running sums (float64 accumulators over shifted values, by the first batch's mean to avoid cancellation), so memory is O(P·D²) no matter
/// how many images are seen. <see cref="Finish"/> yields the means and regularized inverse covariances, which a
/// model's inference graph scores with. The inverses are symmetric, so only their upper triangles are kept, packed
/// row by row (<see cref="PackedInverseCovariance"/>): half the state, the checkpoint and the exported file, and what
/// lets PaDiM at 1024 px (65,536 positions × 100 features) fit in one ONNX file. <see cref="UnpackIndex"/> rebuilds a
/// full matrix from its triangle.
/// </summary>
public sealed partial class MultivariateGaussian : IDisposable
{
    Tensor? _shift;   // [D,P] float32: the embeddings' own layout, so centering reads them in order
    Tensor? _sum;     // [D,P]
    Tensor? _work;    // [B,D,P] float32, reused batch after batch (a fresh 26 MB tensor per batch is page faults)
    Tensor? _outer;   // [P,D,D]
    Tensor? _pending; // [P,capacity,D] float32: centered samples not yet in _outer
    long _pendingCount;
    long _count;

    /// <summary>
    /// Elements (positions × samples × features) of centered samples gathered before their outer products are folded
    /// into the float64 sums: one product of many samples per position instead of one per batch, so the float64 sums
    /// are read and written a few times per pass rather than once per batch (64 MB in float32).
    /// </summary>
    internal long PendingElements { get; init; } = 16L << 20;

    /// <summary>Mean per position [P,D] (after <see cref="Finish"/> or loading).</summary>
    public Tensor? Mean { get; private set; }
    /// <summary>
    /// The upper triangle of each position's inverse covariance, row by row [P,D(D+1)/2] (after <see cref="Finish"/> or
    /// loading): element (i,j), i ≤ j, at i·D − i(i−1)/2 + j − i.
    /// </summary>
    public Tensor? PackedInverseCovariance { get; private set; }
    /// <summary>Number of samples seen.</summary>
    public long Count => _count;

    /// <summary>
    /// What an exact merge needs, kept by <see cref="Finish"/> when asked (else null): the count, the float64 means
    /// [P,D] and the packed float64 scatter matrices Σ(x−μ)(x−μ)ᵀ [P,D(D+1)/2]. <see cref="Resume"/> continues from them.
    /// </summary>
    public (long Count, Tensor Mean, Tensor Scatter)? Sums { get; private set; }

    /// <summary>Adds a batch of embeddings [B,D,P].</summary>
    public void Update(Tensor embeddings)
    {
        using var scope = NewDisposeScope();
        var x = embeddings.to_type(ScalarType.Float32); // [B,D,P]
        long b = x.shape[0], d = x.shape[1], p = x.shape[2];
        if (_shift is null)
        {
            // The shift is any fixed point near the data (here the first batch's mean); what matters is that the sums use
            // exactly the value subtracted: the float32 shift, read exactly as float64 when the mean is formed.
            _shift = x.mean(new long[] { 0 }).DetachFromDisposeScope();
            _sum = zeros(d, p, dtype: ScalarType.Float64).DetachFromDisposeScope();
            _outer = zeros(p, d, d, dtype: ScalarType.Float64).DetachFromDisposeScope();
        }
        if (_work is null || _work.shape[0] < b)
        {
            _work?.Dispose();
            _work = empty(b, d, p, dtype: ScalarType.Float32).DetachFromDisposeScope();
        }
        var centered = _work.narrow(0, 0, b);
        centered.copy_(x);
        SafeOps.SubtractInPlace(centered, _shift);
        SafeOps.AddInPlace(_sum!, centered.sum(new long[] { 0 })); // a batch's sum in float32, the running sum in float64
        // Products of shifted values are small, so float32 matrix products lose nothing that matters; sums stay float64.
        // The one transposition to [P,B,D] happens here, in float32, as the samples are gathered.
        var c32 = centered.permute(2, 0, 1);
        long capacity = Math.Max(1, PendingElements / (p * d));
        _count += b;
        if (b >= capacity) { AddOuter(c32.contiguous()); return; }
        if (_pendingCount + b > capacity) Fold();
        _pending ??= empty(p, capacity, d, dtype: ScalarType.Float32).DetachFromDisposeScope();
        _pending.narrow(1, _pendingCount, b).copy_(c32);
        _pendingCount += b;
    }

    /// <summary>Adds the outer products of the gathered samples to the float64 sums.</summary>
    void Fold()
    {
        if (_pendingCount == 0) return;
        using var scope = NewDisposeScope();
        AddOuter(_pending!.narrow(1, 0, _pendingCount));
        _pendingCount = 0;
    }

    /// <summary>Σ xxᵀ over the samples of <paramref name="c32"/> [P,N,D], added to the float64 sums position block by block.</summary>
    void AddOuter(Tensor c32)
    {
        long positions = c32.shape[0];
        for (long start = 0; start < positions; start += 256) // chunked: no full-size temporary
        {
            long len = Math.Min(256, positions - start);
            var part = c32.narrow(0, start, len);
            using var product = bmm(part.transpose(1, 2), part);
            SafeOps.AddInPlace(_outer!.narrow(0, start, len), product);
        }
    }

    /// <summary>
    /// Computes means and inverse covariances (covariance + epsilon·I), then frees the running sums. Works through
    /// the positions in chunks, in place, so the peak stays near the running sums plus the float32 result.
    /// With <paramref name="keepSums"/>, what an exact merge needs is kept as <see cref="Sums"/> (float64: 8·P·D(D+1)/2
    /// bytes, 165 MB for 4,096 positions of 100 features).
    /// </summary>
    public void Finish(double epsilon, bool keepSums = false, int chunk = 256)
    {
        if (_count < 2 || _shift is null) throw new AnomalySharpException($"need at least 2 training images to fit a Gaussian, got "
            + $"{_count}");
        Fold();
        _pending?.Dispose(); _work?.Dispose();
        _pending = _work = null;
        long p = _outer!.shape[0], d = _outer.shape[1];
        Mean?.Dispose(); PackedInverseCovariance?.Dispose(); // a resumed Gaussian's previous result
        Mean = PackedInverseCovariance = null;
        var inverse = empty(p, PackedLength(d), dtype: ScalarType.Float32).DetachFromDisposeScope();
        var scatter = keepSums ? empty(p, PackedLength(d), dtype: ScalarType.Float64).DetachFromDisposeScope() : null;
        Tensor? mean64 = null;
        using (var scope = NewDisposeScope())
        {
            var upper = tensor(UpperIndex(d));
            var meanCentered = (_sum! / _count).t();                           // [P,D]
            var mean = _shift.to_type(ScalarType.Float64).t() + meanCentered;
            Mean = mean.to_type(ScalarType.Float32).contiguous().DetachFromDisposeScope();
            if (keepSums) mean64 = mean.contiguous().DetachFromDisposeScope();
            for (long start = 0; start < p; start += chunk)
            {
                using var inner = NewDisposeScope();
                long len = Math.Min(chunk, p - start);
                var m = meanCentered.narrow(0, start, len);
                var cov = _outer.narrow(0, start, len);                         // a view: updated in place
                SafeOps.SubtractInPlace(cov, m.unsqueeze(2) * m.unsqueeze(1) * _count);   // the scatter about the mean
                scatter?.narrow(0, start, len).copy_(Pack(cov, upper));
                cov.div_(_count - 1);
                SafeOps.AddInPlace(cov.diagonal(0, 1, 2), epsilon);
                // Cholesky (the covariance is symmetric positive definite): LibTorch's batched linalg.inv fails on
                // matrices above ~200 rows here ("Pivots given to lu_solve must all be greater or equal to 1").
                // cholesky_inverse fills one triangle and mirrors it: the result is exactly symmetric, packing loses nothing.
                inverse.narrow(0, start, len).copy_(Pack(cholesky_inverse(linalg.cholesky(cov)), upper));
            }
        }
        PackedInverseCovariance = inverse;
        Sums = keepSums ? (_count, mean64!, scatter!) : null;
        _shift.Dispose(); _sum!.Dispose(); _outer.Dispose();
        _shift = _sum = _outer = null;
    }

    /// <summary>
    /// Restores kept sums (<see cref="Sums"/>, as saved) after <see cref="Load"/>: count [1] int64, means [P,D] and packed
    /// scatter [P,D(D+1)/2] float64. The Gaussian takes ownership.
    /// </summary>
    /// <exception cref="AnomalySharpException">They do not fit the loaded means.</exception>
    public void LoadSums(Tensor count, Tensor mean, Tensor scatter)
    {
        long p = Mean?.shape[0] ?? -1, d = Mean?.shape[1] ?? -1;
        if (count.numel() != 1 || count.dtype != ScalarType.Int64 || mean.dtype != ScalarType.Float64 || scatter.dtype != ScalarType.Float64
            || !mean.shape.SequenceEqual(new[] { p, d }) || !scatter.shape.SequenceEqual(new[] { p, PackedLength(d) }))
            throw new AnomalySharpException($"Gaussian sums of [{string.Join(",", mean.shape)}] and "
                + $"[{string.Join(",", scatter.shape)}] do not match means of [{p},{d}]");
        long n = count.item<long>();
        if (n < 2) throw new AnomalySharpException($"Gaussian sums of {n} samples: at least 2 are needed");
        DisposeSums();
        Sums = (n, mean.DetachFromDisposeScope(), scatter.DetachFromDisposeScope());
        count.Dispose();
    }

    /// <summary>
    /// Goes back to accumulating from the kept <see cref="Sums"/>, so that further <see cref="Update"/>s and a
    /// <see cref="Finish"/> give what one fit on all the samples would (Chan et al.'s pairwise merge: the old mean is the
    /// shift, the old scatter the running outer products, and no sum is needed for the old samples about their own mean).
    /// </summary>
    public void Resume()
    {
        var (n, mean, scatter) = Sums ?? throw new InvalidOperationException("the Gaussian keeps no sums to resume from");
        long p = mean.shape[0], d = mean.shape[1];
        using (var index = tensor(UnpackIndex(d)))
            _outer = scatter.index_select(1, index).reshape(p, d, d).DetachFromDisposeScope();
        // The old mean is the shift: a float64 value, which float32 centering cannot subtract exactly. Round it to float32
        // and carry the rounding into the sums (Σ(x − s') = Σ(x − s) + n(s − s'), and the scatter about s' gains n·δδᵀ).
        _shift = mean.t().to_type(ScalarType.Float32).contiguous().DetachFromDisposeScope();
        using (var scope = NewDisposeScope())
        {
            var delta = mean - _shift.to_type(ScalarType.Float64).t();           // [P,D]: μ − s′
            var count = tensor((double)n, dtype: ScalarType.Float64);             // a tensor, not an implicit Scalar
            _sum = (delta * count).t().contiguous().DetachFromDisposeScope();
            SafeOps.AddInPlace(_outer, delta.unsqueeze(2) * delta.unsqueeze(1) * count);
        }
        mean.Dispose();
        _count = n;
        scatter.Dispose();
        Sums = null;
    }

    void DisposeSums()
    {
        if (Sums is { } s) { s.Mean.Dispose(); s.Scatter.Dispose(); }
        Sums = null;
    }

    /// <summary>
    /// Restores a fitted state: means [P,D] and inverse covariances, packed [P,D(D+1)/2] or — as saved before packing —
    /// full [P,D,D] (packed here).
    /// </summary>
    /// <exception cref="AnomalySharpException">The shapes do not fit together.</exception>
    public void Load(Tensor mean, Tensor inverseCovariance)
    {
        if (mean.dim() != 2) throw new AnomalySharpException($"Gaussian state: means must be [P,D], got [{string.Join(",", mean.shape)}]");
        long p = mean.shape[0], d = mean.shape[1];
        Tensor packed;
        if (inverseCovariance.dim() == 3 && inverseCovariance.shape[0] == p && inverseCovariance.shape[1] == d
            && inverseCovariance.shape[2] == d)
        {
            using var scope = NewDisposeScope();
            using var upper = tensor(UpperIndex(d));
            packed = Pack(inverseCovariance, upper).MoveToOuterDisposeScope();
            inverseCovariance.Dispose();
        }
        else if (inverseCovariance.dim() == 2 && inverseCovariance.shape[0] == p
            && inverseCovariance.shape[1] == PackedLength(d)) packed = inverseCovariance;
        else throw new AnomalySharpException($"Gaussian state: inverse covariances of [{string.Join(",", inverseCovariance.shape)}] "
            + $"do not match means of [{p},{d}]");
        Mean?.Dispose(); PackedInverseCovariance?.Dispose();
        Mean = mean.DetachFromDisposeScope(); PackedInverseCovariance = packed.DetachFromDisposeScope();
    }

    /// <summary>The upper triangles [N,D(D+1)/2] of full matrices [N,D,D], given <see cref="UpperIndex"/> as a tensor.</summary>
    static Tensor Pack(Tensor full, Tensor upper) => full.reshape(full.shape[0], -1).index_select(1, upper);

    /// <summary>The full inverse covariances [P,D,D], unpacked from <see cref="PackedInverseCovariance"/>; the caller owns the
    /// result.</summary>
    public Tensor UnpackInverseCovariance()
    {
        var packed = PackedInverseCovariance ?? throw new InvalidOperationException("the Gaussian is not fitted");
        long d = Mean!.shape[1];
        using var index = tensor(UnpackIndex(d));
        return packed.index_select(1, index).reshape(packed.shape[0], d, d);
    }

    /// <summary>The length of one packed triangle of a D × D matrix: D(D+1)/2.</summary>
    public static long PackedLength(long d) => d * (d + 1) / 2;

    /// <summary>The flat indices (i·D + j) of a D × D matrix's upper triangle, i ≤ j, row by row: the packing order.</summary>
    public static long[] UpperIndex(long d)
    {
        var index = new long[PackedLength(d)];
        long k = 0;
        for (long i = 0; i < d; i++)
            for (long j = i; j < d; j++) index[k++] = i * d + j;
        return index;
    }

    /// <summary>For each element (i,j) of a D × D matrix, row by row, its place in the packed triangle: a Gather that unpacks.</summary>
    public static long[] UnpackIndex(long d)
    {
        var index = new long[d * d];
        for (long i = 0; i < d; i++)
            for (long j = 0; j < d; j++)
            {
                long r = Math.Min(i, j), c = Math.Max(i, j);
                index[i * d + j] = r * d - r * (r - 1) / 2 + c - r;
            }
        return index;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _shift?.Dispose(); _sum?.Dispose(); _outer?.Dispose(); _pending?.Dispose(); _work?.Dispose();
        Mean?.Dispose(); PackedInverseCovariance?.Dispose();
        DisposeSums();
    }
}
