using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace AnomalySharp.Bench;

/// <summary>
/// One child process measured from outside: wall seconds, CPU seconds (user + system, from the kernel's account of
/// reaped children, so every thread the child ever had counts) and peak resident memory (VmHWM, sampled until exit).
/// </summary>
public static partial class ChildRun
{
    /// <summary>What one run cost.</summary>
    public sealed record Cost(double WallSeconds, double CpuSeconds, double PeakMb, int ExitCode, string Output, bool Stopped = false);

    /// <summary>Runs <paramref name="file"/> with <paramref name="args"/> and <paramref name="environment"/> added, to its end.</summary>
    public static Cost Run(string file, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null,
        TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) info.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) info.Environment[k] = v;
        double cpuBefore = ChildrenCpuSeconds();
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(info)!;
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        double peak = 0;
        bool stopped = false;
        var limit = timeout ?? TimeSpan.FromHours(1);
        while (!process.WaitForExit(100))
        {
            peak = Math.Max(peak, StatusMb(process.Id, "VmHWM:"));
            if (clock.Elapsed > limit) { process.Kill(entireProcessTree: true); stopped = true; break; }
        }
        process.WaitForExit();
        double wall = clock.Elapsed.TotalSeconds;
        return new Cost(wall, ChildrenCpuSeconds() - cpuBefore, peak, process.ExitCode, output.ToString(), stopped);
    }

    /// <summary>A line of /proc/PID/status in MB (0 once the process is gone).</summary>
    public static double StatusMb(int pid, string key)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith(key, StringComparison.Ordinal))
                    return double.Parse(line[key.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024;
        }
        catch (IOException) { }
        return 0;
    }

    /// <summary>User + system CPU seconds of a running process, from /proc/PID/stat.</summary>
    public static double ProcessCpuSeconds(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the command name; clock ticks of 1/100 s on Linux.
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    /// <summary>CPU seconds of every child this process has reaped so far (getrusage RUSAGE_CHILDREN).</summary>
    public static double ChildrenCpuSeconds()
    {
        var usage = new long[18];
        if (GetRusage(-1, usage) != 0) throw new InvalidOperationException("getrusage failed");
        return usage[0] + usage[1] / 1e6 + usage[2] + usage[3] / 1e6;
    }

    [LibraryImport("libc", EntryPoint = "getrusage")]
    private static partial int GetRusage(int who, [Out] long[] usage);
}
