using System.Runtime;
using AnomalySharp.Runtime;

namespace AnomalySharp.Serving;

/// <summary>
/// Gives memory back after a burst of requests: once the server has been idle for a moment, a compacting collection
/// (large-object heap included) returns the managed buffers of the burst, and <see cref="NativeHeap.Release"/> the
/// native ones (decoder and ONNX Runtime scratch), so the process returns to its resting size instead of keeping its peak.
/// </summary>
internal static class MemoryTrim
{
    public static void Now()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        NativeHeap.Release();
    }
}
