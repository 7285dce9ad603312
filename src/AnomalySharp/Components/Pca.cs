using static TorchSharp.torch;

namespace AnomalySharp.Components;

/// <summary>
/// Principal component analysis of rows [N,D] by a thin SVD: keeps either a fixed number of components or as many
/// as explain a share of the variance (e.g. 0.97). Transform projects rows onto the components; inverse transform
/// maps them back (the reconstruction whose error DFM uses as an anomaly score).
/// </summary>
public sealed class Pca : IDisposable
{
    /// <summary>Mean row [D].</summary>
    public Tensor Mean { get; private set; }
    /// <summary>Components as rows [K,D] (orthonormal).</summary>
    public Tensor Components { get; private set; }

    Pca(Tensor mean, Tensor components) { Mean = mean; Components = components; }

    /// <summary>Fits on rows [N,D]. <paramref name="level"/> in (0,1) is a variance share; ≥ 1 a component count.</summary>
    public static Pca Fit(Tensor rows, double level)
    {
        if (rows.shape[0] < 2) throw new AnomalySharpException($"PCA needs at least 2 samples, got {rows.shape[0]}");
        if (level <= 0) throw new AnomalySharpException($"PCA level must be positive, got {level}");
        using var scope = NewDisposeScope();
        var x = rows.to_type(ScalarType.Float64);
        var mean = x.mean(new long[] { 0 });
        var (_, s, vh) = linalg.svd(x - mean, fullMatrices: false);
        var variance = s.pow(2);
        long k;
        if (level < 1)
        {
            var ratio = variance.cumsum(0) / variance.sum();
            k = Math.Min(ratio.lt(level).sum().item<long>() + 1, s.shape[0]);
        }
        else k = Math.Min((long)level, s.shape[0]);
        return new Pca(mean.to_type(ScalarType.Float32).DetachFromDisposeScope(),
            vh.narrow(0, 0, k).to_type(ScalarType.Float32).contiguous().DetachFromDisposeScope());
    }

    /// <summary>Restores a fitted PCA (takes ownership).</summary>
    public static Pca FromState(Tensor mean, Tensor components) => new(mean.DetachFromDisposeScope(), components.DetachFromDisposeScope());

    /// <summary>Rows [N,D] → coordinates [N,K].</summary>
    public Tensor Transform(Tensor rows) => (rows - Mean).mm(Components.t());

    /// <summary>Coordinates [N,K] → rows [N,D].</summary>
    public Tensor InverseTransform(Tensor coordinates) => coordinates.mm(Components) + Mean;

    /// <inheritdoc />
    public void Dispose() { Mean.Dispose(); Components.Dispose(); }
}
