using System.Diagnostics;

namespace AnomalySharp.Cli;

/// <summary>Runs this same program in a child process (process isolation for benchmark cells and HPO trials).</summary>
internal static class SelfProcess
{
    /// <summary>How long an aborting parent waits for the child it killed to be gone.</summary>
    static readonly TimeSpan ChildKillWait = TimeSpan.FromSeconds(1);

    /// <summary>Runs `anomalysharp ARGS`, which writes <paramref name="output"/>; stderr lines are passed to <paramref
    /// name="onError"/>. Returns (exit code, last error line).</summary>
    /// <remarks>Cancelling <paramref name="cancellation"/> sends the child SIGTERM (a child stops at once and removes its
    /// outputs), waits for it, then throws <see cref="OperationCanceledException"/>. A child still there when this process
    /// aborts (its deadline, or a second signal) is killed, and its staging folder removed here: a process handles a
    /// signal only once it has finished loading a native library (LibTorch takes most of a second, more on a busy machine),
    /// and its parent must be gone within 2 s of the first one.</remarks>
    public static (int ExitCode, string? LastError) Run(IEnumerable<string> args, string output, Action<string>? onError = null,
        CancellationToken cancellation = default)
    {
        string exe = Environment.ProcessPath ?? "dotnet";
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // Started as `dotnet AnomalySharp.Cli.dll`: the child needs the assembly path too; an apphost (the tool) does not.
        if (Path.GetFileNameWithoutExtension(exe) == "dotnet") psi.ArgumentList.Add(typeof(SelfProcess).Assembly.Location);
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment[Shutdown.ChildVariable] = "1"; // stops at once on a signal (Shutdown)
        using var p = Process.Start(psi) ?? throw new AnomalySharpException($"cannot start {exe}");
        // A running child is pending work: this process does not stop at once while it runs, and an abort (a second signal,
        // or the deadline) kills it and removes the staging folder it leaves (registered after this process's own outputs,
        // so removed before them: the child's output lies inside them or beside a resumed one).
        int pid = p.Id;
        using var pending = IO.PendingOutputs.Register(() =>
        {
            Shutdown.Kill(pid);
            try { p.WaitForExit(ChildKillWait); }
            catch (InvalidOperationException) { } // the child was reaped and this Process disposed meanwhile
            IO.StagedOutput.RemoveStaging(output);
        });
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
