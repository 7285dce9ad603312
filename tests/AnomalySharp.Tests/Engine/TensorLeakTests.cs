using AnomalySharp.Engine;
using AnomalySharp.Models;
using AnomalySharp.Tests.Models;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Engine;

/// <summary>
/// Evaluation runs again and again inside training (a validation pass every few epochs), so a tensor it forgets to
/// dispose is memory that only a garbage collection gives back: a FastFlow run grew 650 MB per validation that way.
/// Counted with TorchSharp's global live-tensor count, alone (the isolated collection), after a collection has
/// finalized earlier tests' garbage.
/// </summary>
[Collection(IsolatedCollection.Name)]
public class TensorLeakTests
{
    [Fact]
    public void TestingASavedModelLeavesNoLiveTensorBehind()
    {
        var ds = PadimTests.SmallSynthetic();
        var config = ModelRegistry.Defaults("padim");
        config.Set("data.image_size=64");
        config.Set("visualization.save_images=false");
        string root = TestPaths.TempDir("leak");
        var engine = new AnomalyEngine();
        engine.Train(config, ds, Path.Combine(root, "model"), false);
        engine.Test(Path.Combine(root, "model"), ds, Path.Combine(root, "test1"), false);   // first use warms caches

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        long before = Tensor.TotalCount;
        engine.Test(Path.Combine(root, "model"), ds, Path.Combine(root, "test2"), false);
        long after = Tensor.TotalCount;
        Assert.True(after == before, $"{after - before} tensors still alive after `test` ({before} before, {after} after)");
    }
}
