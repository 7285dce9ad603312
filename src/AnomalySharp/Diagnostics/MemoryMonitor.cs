namespace AnomalySharp.Diagnostics;

/// <summary>Process memory as the operating system sees it (native TorchSharp buffers included).</summary>
internal static class MemoryMonitor
{
    /// <summary>Set to 1 to print each stage's own peak resident memory to stderr (see <see cref="Stage"/>).</summary>
    public const string TraceVariable = "ANOMALYSHARP_MEMORY_TRACE";

    static readonly bool Trace = Environment.GetEnvironmentVariable(TraceVariable) == "1";
    static double _earlierPeak;
    static readonly object Gate = new();

    /// <summary>Peak resident set size of this process in MiB (VmHWM on Linux; the managed peak elsewhere).</summary>
    public static double PeakResidentMb()
    {
        lock (Gate) return Math.Max(_earlierPeak,
            Read("VmHWM:") ?? System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024.0));
    }

    /// <summary>Current resident set size of this process in MiB (VmRSS on Linux).</summary>
    public static double CurrentResidentMb()
        => Read("VmRSS:") ?? System.Diagnostics.Process.GetCurrentProcess().WorkingSet64 / (1024.0 * 1024.0);

    /// <summary>
    /// Ends a stage of a run on the thread that runs it, when no other thread works with tensors: collects the managed
    /// garbage the stage left (buffers of images, protobuf copies of graphs, tensors left to finalizers) with a
    /// decommitting collection, hands glibc's free pages back, then traces as <see cref="Stage"/> does. Between stages
    /// the next stage starts from what the run really holds, not from the previous stage's garbage.
    /// </summary>
    public static void EndStage(string name)
    {
        ReleaseGarbage();
        StageTimings.End(name);
        Stage(name);
    }

    /// <summary>
    /// A decommitting garbage collection and glibc's free pages handed back; the collection is skipped while another
    /// thread is inside a guarded TorchSharp section (<see cref="NativeCallGuard.CollectOutsideGuard"/>).
    /// </summary>
    public static void ReleaseGarbage()
    {
        // Only a heap holding real garbage is worth a forced collection: each one is also a moment at which another
        // thread's unguarded TorchSharp call is exposed to the Scalar race, as with any collection.
        if (GC.GetTotalMemory(false) >= ForcedCollectionBytes)
            NativeCallGuard.CollectOutsideGuard(() =>
            {
                GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
                GC.WaitForPendingFinalizers(); // undisposed tensors free their native memory here
                GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            });
        Runtime.NativeHeap.ReleaseIfLarge();
    }

    /// <summary>
    /// Ends a stage of a run. With <see cref="TraceVariable"/>=1 on Linux, prints the stage's own peak and the current
    /// resident memory, then resets the kernel's high-water mark (/proc/self/clear_refs) so the next stage's peak is its
    /// own; <see cref="PeakResidentMb"/> still reports the whole process's peak. Otherwise does nothing.
    /// </summary>
    public static void Stage(string name)
    {
        if (!Trace || Read("VmHWM:") is not { } peak) return;
        lock (Gate)
        {
            _earlierPeak = Math.Max(_earlierPeak, peak);
            Console.Error.WriteLine($"memory: {name}: peak {peak:0} MiB, now {CurrentResidentMb():0} MiB, managed heap "
                + $"{GC.GetTotalMemory(false) / 1048576.0:0} MiB");
            try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>The managed heap size from which <see cref="ReleaseGarbage"/> forces a collection.</summary>
    const long ForcedCollectionBytes = 128L << 20;

    static double? Read(string key)
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return null;
        foreach (string line in File.ReadLines(status))
            if (line.StartsWith(key, StringComparison.Ordinal))
                return double.Parse(line[key.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
        return null;
    }
}
