namespace AnomalySharp.Diagnostics;

/// <summary>Process memory as the operating system sees it (native TorchSharp buffers included).</summary>
public static class MemoryMonitor
{
    /// <summary>Peak resident set size of this process in MiB (VmHWM on Linux; the managed peak elsewhere).</summary>
    public static double PeakResidentMb() => Read("VmHWM:") ?? System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024.0);

    /// <summary>Current resident set size of this process in MiB (VmRSS on Linux).</summary>
    public static double CurrentResidentMb() => Read("VmRSS:") ?? System.Diagnostics.Process.GetCurrentProcess().WorkingSet64 / (1024.0 * 1024.0);

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
