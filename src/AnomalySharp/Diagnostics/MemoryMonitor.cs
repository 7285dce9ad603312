namespace AnomalySharp.Diagnostics;

/// <summary>Process memory as the operating system sees it (native TorchSharp buffers included).</summary>
public static class MemoryMonitor
{
    /// <summary>Peak resident set size of this process in MiB (VmHWM on Linux; the managed peak elsewhere).</summary>
    public static double PeakResidentMb()
    {
        const string status = "/proc/self/status";
        if (File.Exists(status))
            foreach (string line in File.ReadLines(status))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return double.Parse(line[6..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
        return System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024.0);
    }
}
