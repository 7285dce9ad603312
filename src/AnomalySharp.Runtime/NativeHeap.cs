using System.Runtime.InteropServices;

namespace AnomalySharp.Runtime;

/// <summary>
/// Hands freed native memory back to the operating system: between training epochs, and after a burst of requests to
/// the server. libtorch allocates its CPU tensors with the C allocator, as do the image decoder and ONNX Runtime's
/// scratch outside its arena. Once a large buffer has been freed, glibc raises its mmap threshold to that size and
/// serves later, smaller tensors from its heaps, whose freed pages stay resident. A 2-thread FastFlow run grew from
/// 4.2 GB to 18.9 GB resident over epochs 41–90 while a fresh process resumed from its last checkpoint needed 3.9 GB.
/// </summary>
public static partial class NativeHeap
{
    static bool _unavailable = !OperatingSystem.IsLinux();

    /// <summary>
    /// Asks glibc to return its free heap pages to the system (<c>malloc_trim</c>). Does nothing where the C library has
    /// no such call (musl, macOS, Windows). It forces no garbage collection: tensors are disposed deterministically, and
    /// a collection here could finalize another thread's temporaries in the middle of a TorchSharp call.
    /// </summary>
    public static void Release()
    {
        Interlocked.Exchange(ref _lastRelease, Environment.TickCount64);
        if (_unavailable) return;
        try
        {
            MallocTrim(0);
            if (ResidentBytes() is long resident) Interlocked.Exchange(ref _residentAfterTrim, resident);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _unavailable = true;
        }
    }

    static long _lastRelease = Environment.TickCount64;

    /// <summary>How much freed memory glibc must hold before <see cref="ReleaseIfLarge"/> trims: 256 MB.</summary>
    public const long LargeFreeBytes = 256L << 20;

    /// <summary>
    /// <see cref="Release"/>, when glibc holds at least <see cref="LargeFreeBytes"/> of freed memory (<c>mallinfo2</c>'s
    /// free bytes, every arena) and the process has grown by as much since the last trim (freed chunks that a trim
    /// already handed back stay counted as free until they are reused). A trim is not free: each page it returns is
    /// faulted in and zeroed again by the next allocation. Trimming at every stage of a small run made a third of its
    /// time kernel time (a PaDiM train on hazelnut_toy: 820 k page faults, 5.9 s of system time in 14 s); a heap that
    /// has grown (a long training run, a large evaluation) still goes back. Where <c>mallinfo2</c> or /proc/self/statm
    /// is missing, it trims as <see cref="Release"/> does.
    /// </summary>
    public static void ReleaseIfLarge()
    {
        long? resident = ResidentBytes();
        if (resident is long now && FreeBytes() is long free
            && (free < LargeFreeBytes || now - Interlocked.Read(ref _residentAfterTrim) < LargeFreeBytes))
        {
            Interlocked.Exchange(ref _lastRelease, Environment.TickCount64);
            return;
        }
        Release();
    }

    static long _residentAfterTrim;

    /// <summary>The process's resident bytes (/proc/self/statm), or null where that cannot be read.</summary>
    static long? ResidentBytes()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            string[] fields = File.ReadAllText("/proc/self/statm").Split(' ');
            return long.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) * Environment.SystemPageSize;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>The bytes glibc holds freed in its arenas, or null where that cannot be asked.</summary>
    static long? FreeBytes()
    {
        if (_unavailable || _noMallinfo) return null;
        try
        {
            return (long)MallInfo2().FreeBytes;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _noMallinfo = true;
            return null;
        }
    }

    static bool _noMallinfo;

    /// <summary>
    /// <see cref="ReleaseIfLarge"/>, when the last release of any caller was at least <paramref name="interval"/> ago; for
    /// loops over batches. Trimming after every batch made a PaDiM train on magnetic_tile (256 px, 2 threads) take 113 s
    /// rather than 75 s; between trims the heap reuses the same batch-sized blocks, so memory stays bounded.
    /// </summary>
    public static void ReleaseIfDue(TimeSpan interval)
    {
        long last = Interlocked.Read(ref _lastRelease);
        if (Environment.TickCount64 - last < (long)interval.TotalMilliseconds) return;
        ReleaseIfLarge();
    }

    /// <summary>glibc's <c>struct mallinfo2</c> (ten <c>size_t</c> fields; <c>fordblks</c> is the ninth).</summary>
    [StructLayout(LayoutKind.Sequential)]
    struct MallInfo
    {
        public nuint Arena, OrdBlks, SmBlks, HBlks, HBlkHd, UsmBlks, FsmBlks, UordBlks, FordBlks, KeepCost;
        public readonly nuint FreeBytes => FordBlks;
    }

    [LibraryImport("libc", EntryPoint = "mallinfo2")]
    private static partial MallInfo MallInfo2();

    /// <summary>
    /// Makes glibc keep freed large blocks for reuse instead of unmapping them: no allocation is served by its own
    /// mmap (M_MMAP_MAX 0) and the heap's top is handed back on its own only above 1 GB (M_TRIM_THRESHOLD); the
    /// trims of <see cref="Release"/> and <see cref="ReleaseIfLarge"/> still return freed pages. By default glibc maps
    /// every block over 32 MB afresh and unmaps it when freed, so a tensor of that size allocated step after step (an
    /// optimizer's temporaries, a batch's features) is faulted in and zeroed page by page each time: Reverse
    /// Distillation's 50 M-parameter network trained at 5.6 images/s before this call and 13.7 after, on 2 cores. Process-wide;
    /// the library calls it once before its first TorchSharp call. Does nothing where the C library has no mallopt.
    /// </summary>
    public static void KeepLargeBlocks()
    {
        if (_unavailable) return;
        try
        {
            MallOpt(MmapMax, 0);
            MallOpt(TrimThreshold, 1 << 30);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }

    const int TrimThreshold = -1, MmapMax = -4; // glibc's M_TRIM_THRESHOLD and M_MMAP_MAX

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int parameter, int value);

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
