using AnomalySharp.Models.FastFlow;
using TorchSharp;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Components;

public class FastFlowNetworkTests
{
    [Fact]
    public void TheLogDeterminantOfEightStepsMatchesANumericalJacobian()
    {
        using var guard = AnomalySharp.Diagnostics.NativeCallGuard.Enter();
        using var scope = NewDisposeScope();
        // 8 steps alternating 3x3 and 1x1 subnets, as FastFlow builds them for one layer.
        using var net = new FastFlowNetwork(new[] { new long[] { 4, 3, 3 } }, steps: 8, hiddenRatio: 1.0, conv3x3Only: false,
            clamp: 2.0, seed: 3);
        using (no_grad())
            foreach (var p in net.parameters()) p.add_(randn(p.shape, dtype: p.dtype, generator: new Generator(9)) * 0.3);
        net.to(ScalarType.Float64);
        using var x = randn(new long[] { 1, 4, 3, 3 }, dtype: ScalarType.Float64, generator: new Generator(4));
        var (z, logDet) = net.Flow(0, x);
        int n = (int)x.numel();
        using var jacobian = zeros(new long[] { n, n }, dtype: ScalarType.Float64);
        const double h = 1e-5;
        for (int j = 0; j < n; j++)
        {
            using var inner = NewDisposeScope();
            var e = zeros(new long[] { n }, dtype: ScalarType.Float64);
            e[j] = tensor(h, dtype: ScalarType.Float64);
            var plus = net.Flow(0, x + e.view(x.shape)).Z;
            var minus = net.Flow(0, x - e.view(x.shape)).Z;
            jacobian[TensorIndex.Colon, j] = ((plus - minus) / (2 * h)).flatten();
        }
        var (_, logAbsDet) = linalg.slogdet(jacobian);
        Assert.True(Math.Abs(logAbsDet.item<double>() - logDet.item<double>()) < 1e-5,
            $"numerical {logAbsDet.item<double>()} vs flow {logDet.item<double>()}");
        Assert.True(Math.Abs(logDet.item<double>()) > 0.1, "the perturbed flow is not volume-preserving");
    }
}
