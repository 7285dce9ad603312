using AnomalySharp.Diagnostics;
using AnomalySharp.Runtime;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Runtime;

[Collection(IsolatedCollection.Name)]
public class NativeHeapTests
{
    [Fact]
    public void ReleaseReturnsFreedHeapPagesThatGlibcKeeps()
    {
        Assert.True(OperatingSystem.IsLinux(), "this check reads /proc/self/status and needs glibc");
        // Freeing one 20 MB buffer raises glibc's mmap threshold, so the 400 KB tensors after it come from the heap.
        ones(5_000_000).Dispose();
        var tensors = Enumerable.Range(0, 1000).Select(i => ones(100_000 + 7 * i)).ToList();
        for (int i = 0; i < tensors.Count; i += 2) tensors[i].Dispose();   // ~200 MB freed, pages between live ones
        double before = MemoryMonitor.CurrentResidentMb();
        NativeHeap.Release();
        double after = MemoryMonitor.CurrentResidentMb();
        for (int i = 1; i < tensors.Count; i += 2) tensors[i].Dispose();
        Assert.True(before - after > 100, $"resident {before:0} MB before malloc_trim, {after:0} MB after: expected at least 100 MB back");
    }
}
