using AnomalySharp.Diagnostics;
using AnomalySharp.Runtime;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Runtime;

[Collection(IsolatedCollection.Name)]
[Trait(IsolatedCollection.Trait, IsolatedCollection.Value)]
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

    /// <summary>Freed tensors of <paramref name="totalMb"/> MB in all, each between two live ones (so not at the heap's top).</summary>
    static List<TorchSharp.torch.Tensor> Holes(int totalMb)
    {
        ones(5_000_000).Dispose(); // raises glibc's mmap threshold: the tensors below come from its heap
        int count = totalMb * 10;  // ~100 KB each, every other one freed
        var tensors = Enumerable.Range(0, 2 * count).Select(i => ones(25_000 + 3 * (i % 50))).ToList();
        for (int i = 0; i < tensors.Count; i += 2) tensors[i].Dispose();
        return tensors;
    }

    [Fact]
    public void ReleaseIfLargeKeepsASmallHeapAndReturnsALargeOne()
    {
        Assert.True(OperatingSystem.IsLinux(), "this check reads /proc/self/status and needs glibc");
        NativeHeap.Release();
        var small = Holes(100);
        double before = MemoryMonitor.CurrentResidentMb();
        NativeHeap.ReleaseIfLarge();
        double after = MemoryMonitor.CurrentResidentMb();
        Assert.True(before - after < 50, $"resident {before:0} MB before, {after:0} MB after: 100 MB of holes is under the bar and stays");

        var large = Holes(600);
        before = MemoryMonitor.CurrentResidentMb();
        NativeHeap.ReleaseIfLarge();
        after = MemoryMonitor.CurrentResidentMb();
        foreach (var t in small.Concat(large)) t.Dispose();
        Assert.True(before - after > 300, $"resident {before:0} MB before, {after:0} MB after: 600 MB of holes should go back");
    }
}
