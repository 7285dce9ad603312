using AnomalySharp.Components;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Components;

public class MultivariateGaussianTests
{
    [Theory]
    [InlineData(5, 40, 3)]
    [InlineData(300, 64, 2)] // dimension above the size where LibTorch's batched linalg.inv failed here
    public void StreamedFitEqualsTheTextbookMeanCovarianceAndInverse(int dim, int samples, int positions)
    {
        using var guard = AnomalySharp.Diagnostics.NativeCallGuard.Enter();
        using var scope = NewDisposeScope();
        var x = randn(new long[] { samples, dim, positions }, generator: new Generator(4)) * 3 + 1;   // [B,D,P]
        using var gaussian = new MultivariateGaussian();
        foreach (var chunk in x.split(16, 0)) gaussian.Update(chunk);
        gaussian.Finish(0.01);
        var inverses = gaussian.UnpackInverseCovariance();
        for (int p = 0; p < positions; p++)
        {
            var rows = x.select(2, p).to_type(ScalarType.Float64);                        // [B,D]
            var mean = rows.mean(new long[] { 0 });
            var centered = rows - mean;
            var cov = centered.t().mm(centered) / (samples - 1) + eye(dim, dtype: ScalarType.Float64) * 0.01;
            Assert.True((gaussian.Mean![p].to_type(ScalarType.Float64) - mean).abs().max().item<double>() < 1e-4);
            var product = inverses[p].to_type(ScalarType.Float64).mm(cov);
            double error = (product - eye(dim, dtype: ScalarType.Float64)).abs().max().item<double>();
            Assert.True(error < 1e-3, $"Σ⁻¹Σ differs from I by {error}");
        }
    }

    /// <summary>
    /// Issue 33: fit on a first part, keep the sums, resume and add the rest (through a save-shaped round trip of the sums),
    /// and the means and inverses equal one fit on everything, whatever the split and whatever the shifts.
    /// </summary>
    [Theory]
    [InlineData(7, 30, 11, 3)]
    [InlineData(40, 90, 3, 2)]
    public void KeptSumsResumedGiveTheFitOnAllTheSamples(int dim, int samples, int split, int positions)
    {
        using var guard = AnomalySharp.Diagnostics.NativeCallGuard.Enter();
        using var scope = NewDisposeScope();
        // far from zero: cancellation would show
        var x = randn(new long[] { samples, dim, positions }, generator: new Generator(9)) * 5 + 100;
        using var all = new MultivariateGaussian();
        foreach (var chunk in x.split(8, 0)) all.Update(chunk);
        all.Finish(0.01);

        using var first = new MultivariateGaussian();
        foreach (var chunk in x.narrow(0, 0, split).split(8, 0)) first.Update(chunk);
        first.Finish(0.01, keepSums: true);
        var (count, mean, scatter) = first.Sums!.Value;
        Assert.Equal(split, count);
        using var resumed = new MultivariateGaussian();
        resumed.Load(first.Mean!.clone(), first.PackedInverseCovariance!.clone());
        resumed.LoadSums(tensor(new[] { count }), mean.clone(), scatter.clone());
        resumed.Resume();
        foreach (var chunk in x.narrow(0, split, samples - split).split(8, 0)) resumed.Update(chunk);
        resumed.Finish(0.01, keepSums: true);

        Assert.Equal(samples, resumed.Sums!.Value.Count);
        Assert.True((resumed.Mean! - all.Mean!).abs().max().item<float>() < 1e-4);
        var a = resumed.PackedInverseCovariance!.to_type(ScalarType.Float64);
        var b = all.PackedInverseCovariance!.to_type(ScalarType.Float64);
        double relative = ((a - b).abs().max() / b.abs().max()).item<double>();
        Assert.True(relative < 1e-5, $"inverse covariances differ by {relative} (relative)");
        // Sums that do not match the loaded means are refused.
        Assert.Throws<AnomalySharpException>(() => resumed.LoadSums(tensor(new[] { 5L }), zeros(positions, dim + 1,
            dtype: ScalarType.Float64),
            zeros(positions, MultivariateGaussian.PackedLength(dim + 1), dtype: ScalarType.Float64)));
    }

    [Fact]
    public void PackingKeepsEveryElementOfTheSymmetricInverseAndUnpackingRestoresIt()
    {
        using var guard = AnomalySharp.Diagnostics.NativeCallGuard.Enter();
        using var scope = NewDisposeScope();
        const int dim = 7, positions = 3;
        var x = randn(new long[] { 30, dim, positions }, generator: new Generator(9));
        using var gaussian = new MultivariateGaussian();
        gaussian.Update(x);
        gaussian.Finish(0.01);
        Assert.Equal(new long[] { positions, dim * (dim + 1) / 2 }, gaussian.PackedInverseCovariance!.shape);
        var inverses = gaussian.UnpackInverseCovariance();
        for (int p = 0; p < positions; p++)
        {
            // The full inverse computed independently, then compared element by element with the unpacked triangle.
            var rows = x.select(2, p).to_type(ScalarType.Float64);
            var centered = rows - rows.mean(new long[] { 0 });
            var cov = centered.t().mm(centered) / 29 + eye(dim, dtype: ScalarType.Float64) * 0.01;
            var expected = linalg.inv(cov).to_type(ScalarType.Float32);
            var unpacked = inverses[p];
            Assert.True(unpacked.allclose(unpacked.t(), 0, 0), "unpacked matrix is not symmetric");
            double error = (unpacked - expected).abs().max().item<float>() / expected.abs().max().item<float>();
            Assert.True(error < 1e-4, $"position {p}: unpacked inverse differs by {error} (relative)");
        }
    }

    [Fact]
    public void AFullInverseFromAnOlderPackageLoadsAsTheSameTriangleAndWrongShapesAreRefused()
    {
        using var guard = AnomalySharp.Diagnostics.NativeCallGuard.Enter();
        using var scope = NewDisposeScope();
        const int dim = 5, positions = 2;
        using var fitted = new MultivariateGaussian();
        fitted.Update(randn(new long[] { 20, dim, positions }, generator: new Generator(3)));
        fitted.Finish(0.01);
        var full = fitted.UnpackInverseCovariance();
        using var loaded = new MultivariateGaussian();
        loaded.Load(fitted.Mean!.clone(), full.clone());
        Assert.True(loaded.PackedInverseCovariance!.eq(fitted.PackedInverseCovariance!).all().item<bool>());
        using var wrong = new MultivariateGaussian();
        var e = Assert.Throws<AnomalySharpException>(() => wrong.Load(fitted.Mean!.clone(), zeros(positions, dim * dim)));
        Assert.Contains("do not match", e.Message);
    }
}
