using static TorchSharp.torch;

namespace AnomalySharp.Components;

/// <summary>
/// One multivariate Gaussian per position, fitted by streaming: batches of embeddings [B,D,P] are folded into
/// running sums (float64 accumulators over shifted values, by the first batch's mean to avoid cancellation), so memory is O(P·D²) no matter
/// how many images are seen. <see cref="Finish"/> yields the means and regularized inverse covariances, which a
/// model's inference graph scores with.
/// </summary>
public sealed class MultivariateGaussian : IDisposable
{
    Tensor? _shift;   // [P,D]
    Tensor? _sum;     // [P,D]
    Tensor? _outer;   // [P,D,D]
    long _count;

    /// <summary>Mean per position [P,D] (after <see cref="Finish"/> or loading).</summary>
    public Tensor? Mean { get; private set; }
    /// <summary>Inverse covariance per position [P,D,D] (after <see cref="Finish"/> or loading).</summary>
    public Tensor? InverseCovariance { get; private set; }
    /// <summary>Number of samples seen.</summary>
    public long Count => _count;

    /// <summary>Adds a batch of embeddings [B,D,P].</summary>
    public void Update(Tensor embeddings)
    {
        using var scope = NewDisposeScope();
        var x = embeddings.to_type(ScalarType.Float64).permute(2, 0, 1); // [P,B,D]
        if (_shift is null)
        {
            _shift = x.mean(new long[] { 1 }).DetachFromDisposeScope();
            long p = x.shape[0], d = x.shape[2];
            _sum = zeros(p, d, dtype: ScalarType.Float64).DetachFromDisposeScope();
            _outer = zeros(p, d, d, dtype: ScalarType.Float64).DetachFromDisposeScope();
        }
        var centered = x - _shift.unsqueeze(1);
        SafeOps.AddInPlace(_sum!, centered.sum(new long[] { 1 }));
        // Products of shifted values are small, so float32 matrix products lose nothing that matters; sums stay float64.
        var c32 = centered.to_type(ScalarType.Float32);
        long positions = c32.shape[0];
        for (long start = 0; start < positions; start += 256) // chunked: no full-size temporary per batch
        {
            long len = Math.Min(256, positions - start);
            var part = c32.narrow(0, start, len);
            using var product = bmm(part.transpose(1, 2), part);
            SafeOps.AddInPlace(_outer!.narrow(0, start, len), product);
        }
        _count += x.shape[1];
    }

    /// <summary>
    /// Computes means and inverse covariances (covariance + epsilon·I), then frees the running sums. Works through
    /// the positions in chunks, in place, so the peak stays near the running sums plus the float32 result.
    /// </summary>
    public void Finish(double epsilon, int chunk = 256)
    {
        if (_count < 2 || _shift is null) throw new AnomalySharpException($"need at least 2 training images to fit a Gaussian, got {_count}");
        long p = _outer!.shape[0], d = _outer.shape[1];
        var inverse = empty(p, d, d, dtype: ScalarType.Float32).DetachFromDisposeScope();
        using (var scope = NewDisposeScope())
        {
            var meanCentered = _sum! / _count;                                 // [P,D]
            Mean = (_shift + meanCentered).to_type(ScalarType.Float32).contiguous().DetachFromDisposeScope();
            for (long start = 0; start < p; start += chunk)
            {
                using var inner = NewDisposeScope();
                long len = Math.Min(chunk, p - start);
                var m = meanCentered.narrow(0, start, len);
                var cov = _outer.narrow(0, start, len);                         // a view: updated in place
                SafeOps.SubtractInPlace(cov, m.unsqueeze(2) * m.unsqueeze(1) * _count).div_(_count - 1);
                SafeOps.AddInPlace(cov.diagonal(0, 1, 2), epsilon);
                // Cholesky (the covariance is symmetric positive definite): LibTorch's batched linalg.inv fails on
                // matrices above ~200 rows here ("Pivots given to lu_solve must all be greater or equal to 1").
                inverse.narrow(0, start, len).copy_(cholesky_inverse(linalg.cholesky(cov)));
            }
        }
        InverseCovariance = inverse;
        _shift.Dispose(); _sum!.Dispose(); _outer.Dispose();
        _shift = _sum = _outer = null;
    }

    /// <summary>Restores a fitted state.</summary>
    public void Load(Tensor mean, Tensor inverseCovariance)
    {
        Mean?.Dispose(); InverseCovariance?.Dispose();
        Mean = mean.DetachFromDisposeScope(); InverseCovariance = inverseCovariance.DetachFromDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _shift?.Dispose(); _sum?.Dispose(); _outer?.Dispose();
        Mean?.Dispose(); InverseCovariance?.Dispose();
    }
}
