using System.Diagnostics;
using System.Text;

namespace AnomalySharp.Tests.Cli;

/// <summary>Runs the real `anomalysharp` program in a child process.</summary>
internal static class CliRunner
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(params string[] args) => Run(new Dictionary<string, string>(), args);

    /// <summary>Runs the CLI with <paramref name="environment"/> added to this process's environment (an empty value removes
    /// the variable).</summary>
    public static Result Run(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "AnomalySharp.Cli.dll");
        Assert.True(File.Exists(dll), dll);
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("ANOMALYSHARP_DEBUG");
        foreach (var (k, v) in environment)
            if (v.Length == 0) psi.Environment.Remove(k);
            else psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) { p.Kill(true); Assert.Fail("anomalysharp did not finish in 5 minutes"); }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Asserts a user error: exit code 2, one line on stderr that contains every fragment, no stack trace.</summary>
    public static void AssertUserError(Result r, params string[] fragments)
    {
        Assert.True(r.ExitCode == 2, $"exit {r.ExitCode}\nstdout: {r.Stdout}\nstderr: {r.Stderr}");
        string[] lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string error = Assert.Single(lines, l => l.StartsWith("error: ", StringComparison.Ordinal));
        Assert.DoesNotContain("   at ", r.Stderr);
        foreach (string f in fragments) Assert.Contains(f, error);
    }

    /// <summary>Starts the CLI, waits for a stderr line containing <paramref name="when"/>, sends the signal, and times the exit.</summary>
    /// <summary>An interrupted run: exit code, seconds from the signal to the exit, stderr and stdout.</summary>
    public sealed record Interrupted(int Code, double Seconds, string Stderr, string Stdout);

    /// <remarks>
    /// Ctrl-C is SIGINT. A test run started as a background job (`cmd &amp;` without job control) ignores SIGINT, the
    /// child inherits that, and .NET rightly leaves it ignored; there SIGTERM is sent instead.
    /// </remarks>
    public static Interrupted Interrupt(string when, string signal, params string[] args) => Interrupt(when, _ => true, signal, args);

    /// <summary>
    /// As <see cref="Interrupt(string, string, string[])"/>, signalling only once <paramref name="ready"/> (polled with the
    /// process id after <paramref name="when"/> was printed) returns true.
    /// </summary>
    public static Interrupted Interrupt(string when, Func<int, bool> ready, string signal, params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "AnomalySharp.Cli.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (string a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = new StringBuilder();
        var reached = new TaskCompletionSource();
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data == null) return;
            lock (stderr) stderr.AppendLine(e.Data);
            if (e.Data.Contains(when, StringComparison.Ordinal)) reached.TrySetResult();
        };
        p.BeginErrorReadLine();
        var stdout = p.StandardOutput.ReadToEndAsync();
        bool started = reached.Task.Wait(TimeSpan.FromMinutes(3));
        string Err() { lock (stderr) return stderr.ToString(); }
        Assert.True(started, $"never printed '{when}'; exited {p.HasExited}\n{Err()}");
        Assert.False(p.HasExited, "finished before the signal\n" + Err());
        var waiting = Stopwatch.StartNew();
        while (!p.HasExited && !ready(p.Id) && waiting.Elapsed < TimeSpan.FromMinutes(3)) Thread.Sleep(10);
        Assert.False(p.HasExited, "finished before it was ready for the signal\n" + Err());
        if (signal == "INT" && SigIntIgnored()) signal = "TERM";
        var clock = Stopwatch.StartNew();
        using (var kill = Process.Start("kill", new[] { "-" + signal, p.Id.ToString() })) kill!.WaitForExit();
        if (!p.WaitForExit(TimeSpan.FromSeconds(30))) { p.Kill(true); Assert.Fail("did not stop within 30 s\n" + Err()); }
        double seconds = clock.Elapsed.TotalSeconds;
        p.WaitForExit();
        return new Interrupted(p.ExitCode, seconds, Err(), stdout.Result);
    }

    /// <summary>Whether this process ignores SIGINT (bit 2 of SigIgn in /proc/self/status).</summary>
    public static bool SigIntIgnored()
    {
        string? line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line != null && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & 0x2) != 0;
    }
}
