using AnomalySharp.Components;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Models;

public class SafeOpsTests
{
    [Fact]
    public void InPlaceAdditionSurvivesGarbageCollectionDuringTheNativeCall()
    {
        // TorchSharp's own add_(Tensor) failed about half of these calls with a collector running beside it.
        using var a = zeros(256, 100, 100, dtype: ScalarType.Float64);
        using var b = ones(256, 100, 100);
        bool stop = false;
        var collector = new Thread(()
            =>
        { while (!Volatile.Read(ref stop)) { GC.KeepAlive(new byte[1 << 20]); GC.Collect(); Thread.Sleep(1); } });
        collector.Start();
        try
        {
            for (int i = 0; i < 200; i++)
            {
                SafeOps.AddInPlace(a, b);
                SafeOps.SubtractInPlace(a, b);
                SafeOps.AddInPlace(a, 0.5);
            }
        }
        finally { Volatile.Write(ref stop, true); collector.Join(); }
        Assert.Equal(100.0, a.mean().item<double>(), 9);
    }
}
