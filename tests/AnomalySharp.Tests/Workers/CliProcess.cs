using System.Diagnostics;
using System.Text;

namespace AnomalySharp.Tests.Workers;

/// <summary>A long-running `anomalysharp` command in a child process (a worker), its stderr collected as it comes.</summary>
internal sealed class CliProcess : IDisposable
{
    readonly Process _process;
    readonly StringBuilder _stderr = new(), _stdout = new();

    public int Id => _process.Id;
    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    public CliProcess(params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "AnomalySharp.Cli.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("ANOMALYSHARP_DEBUG");
        _process = Process.Start(psi)!;
        _process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (_stderr) _stderr.AppendLine(e.Data); };
        _process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (_stdout) _stdout.AppendLine(e.Data); };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
    }

    /// <summary>Waits until stderr contains <paramref name="text"/>.</summary>
    public void WaitFor(string text, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!Stderr.Contains(text, StringComparison.Ordinal))
        {
            if (_process.HasExited) Assert.Fail($"exited with {_process.ExitCode} before printing '{text}':\n{Stderr}");
            if (clock.Elapsed > timeout) Assert.Fail($"did not print '{text}' within {timeout.TotalSeconds} s:\n{Stderr}");
            Thread.Sleep(50);
        }
    }

    /// <summary>Sends a signal (TERM, KILL) with kill(1).</summary>
    public void Signal(string signal)
    {
        using var kill = Process.Start("kill", new[] { "-" + signal, _process.Id.ToString() })!;
        kill.WaitForExit();
    }

    /// <summary>Waits for the exit; fails after <paramref name="timeout"/>.</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            _process.Kill(true); Assert.Fail($"did not exit within {timeout.TotalSeconds} s:\n{Stderr}");
        }
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(true);
        _process.Dispose();
    }
}
