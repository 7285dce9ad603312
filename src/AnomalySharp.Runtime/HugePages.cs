using System.Runtime.InteropServices;
using System.Text;

namespace AnomalySharp.Runtime;

/// <summary>
/// Puts the C heap of a command-line process on transparent huge pages. On the virtual machines we measured, every page
/// fault traps to the hypervisor; with glibc's heap on 2 MB pages (<c>GLIBC_TUNABLES=glibc.malloc.hugetlb=1</c>) a PaDiM
/// train on hazelnut_toy took 140 k page faults instead of 686 k, and the test suite's system time fell from 564 s to 362 s.
/// glibc reads that setting only when a process starts, so <see cref="RestartIfUseful"/> restarts the process in place
/// (<c>execve</c>: same process id, arguments, descriptors and environment, plus the setting) before it has done anything.
/// <c>ANOMALYSHARP_HUGE_PAGES=0</c> turns this off; a <c>GLIBC_TUNABLES</c> that already names the setting is left as it is.
/// </summary>
public static partial class HugePages
{
    /// <summary>The environment variable that turns the restart off ("0").</summary>
    public const string Variable = "ANOMALYSHARP_HUGE_PAGES";

    /// <summary>glibc's tunable that makes malloc advise huge pages for its heap (glibc 2.35 and later).</summary>
    public const string Tunable = "glibc.malloc.hugetlb";

    const string Marker = "ANOMALYSHARP_HUGE_PAGES_RESTARTED";

    /// <summary>
    /// Restarts this process with <see cref="Tunable"/>=1 added to <c>GLIBC_TUNABLES</c> when that helps: on Linux with
    /// glibc 2.35 or later, transparent huge pages in "madvise" mode (in "always" mode the heap gets them anyway; in
    /// "never" mode it cannot), the setting not yet there and not turned off. Call it first thing in <c>Main</c>, before
    /// any thread, file or console output of the program's own. Returns only where no restart happens (or the restart
    /// failed, which costs nothing but the huge pages).
    /// </summary>
    public static void RestartIfUseful()
    {
        if (!Useful(Environment.GetEnvironmentVariable("GLIBC_TUNABLES"), Environment.GetEnvironmentVariable(Variable),
            Environment.GetEnvironmentVariable(Marker) != null, ThpMode(), GlibcVersion())) return;
        string[]? argv = CommandLine();
        string? exe = ExecutablePath();
        if (argv is null || argv.Length == 0 || exe is null) return;
        string? tunables = Environment.GetEnvironmentVariable("GLIBC_TUNABLES");
        try
        {
            if (!NativeEnvironment.Set("GLIBC_TUNABLES", string.IsNullOrEmpty(tunables) ? Tunable + "=1" : tunables + ":" + Tunable + "=1",
                true) || !NativeEnvironment.Set(Marker, "1", true)) return;
            ExecV(exe, [.. argv, null]);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }

    /// <summary>
    /// Whether this process's C heap is on transparent huge pages: <c>GLIBC_TUNABLES</c> had <see cref="Tunable"/> at 1 or 2 when
    /// it started, or the kernel gives every large mapping huge pages ("always" mode). Recorded in results.json, as it moves
    /// timings by a third on the machines we measured.
    /// </summary>
    public static bool Active { get; } = OperatingSystem.IsLinux() && ThpMode() is string mode && (mode == "always"
        || (mode == "madvise" && Environment.GetEnvironmentVariable("GLIBC_TUNABLES") is string t
            && (t.Contains(Tunable + "=1", StringComparison.Ordinal) || t.Contains(Tunable + "=2", StringComparison.Ordinal))));

    /// <summary>The decision of <see cref="RestartIfUseful"/>, apart from the process it acts on (for tests).</summary>
    /// <param name="tunables">GLIBC_TUNABLES as it is now.</param>
    /// <param name="setting">ANOMALYSHARP_HUGE_PAGES as it is now.</param>
    /// <param name="restarted">Whether this process is already the restarted one.</param>
    /// <param name="thpMode">The bracketed word of /sys/kernel/mm/transparent_hugepage/enabled.</param>
    /// <param name="glibc">glibc's version, null where the C library is not glibc.</param>
    public static bool Useful(string? tunables, string? setting, bool restarted, string? thpMode, Version? glibc) =>
        OperatingSystem.IsLinux() && setting != "0" && !restarted && thpMode == "madvise"
        && glibc is not null && glibc >= new Version(2, 35) && (tunables is null || !tunables.Contains(Tunable, StringComparison.Ordinal));

    /// <summary>The mode that /sys/kernel/mm/transparent_hugepage/enabled marks with brackets, or null.</summary>
    static string? ThpMode()
    {
        try
        {
            string text = File.ReadAllText("/sys/kernel/mm/transparent_hugepage/enabled");
            int open = text.IndexOf('['), close = text.IndexOf(']');
            return open >= 0 && close > open ? text[(open + 1)..close] : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    static Version? GlibcVersion()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            string? text = Marshal.PtrToStringUTF8(GnuGetLibcVersion());
            return Version.TryParse(text, out Version? v) ? v : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return null; }
    }

    /// <summary>This process's arguments exactly as it was started (/proc/self/cmdline), or null.</summary>
    static string[]? CommandLine()
    {
        try
        {
            byte[] bytes = File.ReadAllBytes("/proc/self/cmdline");
            if (bytes.Length == 0) return null;
            int end = bytes[^1] == 0 ? bytes.Length - 1 : bytes.Length;
            return Encoding.UTF8.GetString(bytes, 0, end).Split('\0');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    static string? ExecutablePath()
    {
        try
        {
            return new FileInfo("/proc/self/exe").LinkTarget is string target && File.Exists(target) ? target : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    [LibraryImport("libc", EntryPoint = "execv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int ExecV(string path, string?[] argv);

    [LibraryImport("libc", EntryPoint = "gnu_get_libc_version")]
    private static partial IntPtr GnuGetLibcVersion();
}
