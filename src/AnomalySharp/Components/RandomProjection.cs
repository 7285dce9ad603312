using static TorchSharp.torch;

namespace AnomalySharp.Components;

/// <summary>
/// A seeded Gaussian random projection (Johnson–Lindenstrauss): x [N,D] → x·R [N,d] with R ~ N(0, 1/d),
/// which keeps pairwise distances up to a small relative error. Same seed, same matrix.
/// </summary>
public sealed class RandomProjection : IDisposable
{
    /// <summary>The projection matrix [inputDim, outputDim].</summary>
    public Tensor Matrix { get; }

    /// <summary>Draws the matrix.</summary>
    public RandomProjection(int inputDim, int outputDim, int seed)
    {
        if (outputDim < 1) throw new AnomalySharpException($"projection dimension must be positive, got {outputDim}");
        using var generator = new Generator((ulong)seed);
        using var scope = NewDisposeScope();
        Matrix = (randn(new long[] { inputDim, outputDim }, generator: generator) / Math.Sqrt(outputDim)).DetachFromDisposeScope();
    }

    /// <summary>Projects rows [N,D] → [N,d] (float32).</summary>
    public Tensor Project(Tensor rows) => rows.to_type(ScalarType.Float32).mm(Matrix);

    /// <inheritdoc />
    public void Dispose() => Matrix.Dispose();
}
