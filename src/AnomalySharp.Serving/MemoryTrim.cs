using System.Runtime;
using System.Runtime.InteropServices;

namespace AnomalySharp.Serving;

/// <summary>
/// Gives memory back after a burst of requests: once the server has been idle for a moment, a compacting collection
/// (large-object heap included) returns the managed buffers of the burst, and glibc's <c>malloc_trim</c> the native
/// ones (decoder and ONNX Runtime scratch), so the process returns to its resting size instead of keeping its peak.
/// </summary>
internal static partial class MemoryTrim
{
    static bool _noTrim = !OperatingSystem.IsLinux();

    public static void Now()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        if (_noTrim) return;
        try { MallocTrim(0); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { _noTrim = true; }
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
