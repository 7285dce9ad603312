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
        for (int p = 0; p < positions; p++)
        {
            var rows = x.select(2, p).to_type(ScalarType.Float64);                        // [B,D]
            var mean = rows.mean(new long[] { 0 });
            var centered = rows - mean;
            var cov = centered.t().mm(centered) / (samples - 1) + eye(dim, dtype: ScalarType.Float64) * 0.01;
            Assert.True((gaussian.Mean![p].to_type(ScalarType.Float64) - mean).abs().max().item<double>() < 1e-4);
            var product = gaussian.InverseCovariance![p].to_type(ScalarType.Float64).mm(cov);
            double error = (product - eye(dim, dtype: ScalarType.Float64)).abs().max().item<double>();
            Assert.True(error < 1e-3, $"Σ⁻¹Σ differs from I by {error}");
        }
    }
}
