using System.Diagnostics;

namespace AnomalySharp.Cli;

/// <summary>Runs this same program in a child process (process isolation for benchmark cells and HPO trials).</summary>
internal static class SelfProcess
{
    /// <summary>Runs `anomalysharp ARGS`; stderr lines are passed to <paramref name="onError"/>. Returns (exit code, last error
    /// line).</summary>
    /// <remarks>Cancelling <paramref name="cancellation"/> sends the child SIGTERM (it stops and cleans up within 2 s), waits
    /// for it, then throws <see cref="OperationCanceledException"/>.</remarks>
    public static (int ExitCode, string? LastError) Run(IEnumerable<string> args, Action<string>? onError = null,
        CancellationToken cancellation = default)
    {
        string exe = Environment.ProcessPath ?? "dotnet";
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // Started as `dotnet AnomalySharp.Cli.dll`: the child needs the assembly path too; an apphost (the tool) does not.
        if (Path.GetFileNameWithoutExtension(exe) == "dotnet") psi.ArgumentList.Add(typeof(SelfProcess).Assembly.Location);
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment["ANOMALYSHARP_CHILD"] = "1";
        using var p = Process.Start(psi) ?? throw new AnomalySharpException($"cannot start {exe}");
        string? last = null;
        p.ErrorDataReceived += (_, e) =>
        {
            if (string.IsNullOrWhiteSpace(e.Data)) return;
            if (e.Data.StartsWith("error:", StringComparison.Ordinal) || e.Data.StartsWith("internal error:",
                StringComparison.Ordinal)) last = e.Data;
            onError?.Invoke(e.Data);
        };
        p.OutputDataReceived += (_, _) => { };
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        using (cancellation.Register(() => Shutdown.Terminate(p.Id)))
            p.WaitForExit();
        cancellation.ThrowIfCancellationRequested();
        return (p.ExitCode, last ?? (p.ExitCode == 0 ? null : $"exit code {p.ExitCode}"));
    }
}
