using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AnomalySharp.IO;

namespace AnomalySharp.Cli;

/// <summary>
/// SIGINT (Ctrl-C) and SIGTERM for the long commands. The first signal cancels <see cref="Token"/>: the work stops at
/// its next batch, removes its staging folder and exits with 130 (a trained model keeps a checkpoint to resume from).
/// Work that does not unwind within <see cref="Grace"/> (a long native call) is cut short: every pending output is
/// removed and the process ends with 130 at once, as it does on a second signal. Either way the command is gone
/// within 2 s and leaves nothing half-written - except that a training step in hand, and the checkpoint it is
/// saved to, may take up to <see cref="ProtectedLimit"/> more (<see cref="PendingOutputs.Protect"/>) and then the
/// grace again to unwind, so that a slow step of a large network does not cost the epoch's work.
/// </summary>
internal static class Shutdown
{
    static readonly CancellationTokenSource Source = new();
    static readonly List<PosixSignalRegistration> Registrations = new();
    static int _signals;
    static int? _finished;

    /// <summary>How long the work has to unwind by itself after the first signal (a worker, which finishes the frames in hand, allows
    /// more).</summary>
    public static TimeSpan Grace { get; set; } = TimeSpan.FromSeconds(1.2);

    /// <summary>
    /// How long the deadline waits, after <see cref="Grace"/>, for protected work in hand (a training step and its
    /// checkpoint): under the 10 s that `docker stop` allows before it kills.
    /// </summary>
    public static TimeSpan ProtectedLimit { get; set; } = TimeSpan.FromSeconds(8);

    /// <summary>
    /// Whether a first signal that finds nothing pending or protected (<see cref="PendingOutputs.IsIdle"/>: a command still
    /// loading its model, reading images, or waiting for a child that has not begun) ends the process at once, instead of
    /// waiting for the work to reach its next check. Only for commands whose every output is staged or registered; not for
    /// those with work in hand that is neither (a worker's frames, `predict --watch`'s appended results).
    /// </summary>
    public static bool StopAtOnceWhenIdle { get; set; }

    /// <summary>The environment variable that marks a child process run by <see cref="SelfProcess"/>.</summary>
    public const string ChildVariable = "ANOMALYSHARP_CHILD";

    static bool IsChild => Environment.GetEnvironmentVariable(ChildVariable) == "1";

    /// <summary>Cancelled by the first SIGINT or SIGTERM.</summary>
    public static CancellationToken Token => Source.Token;

    /// <summary>Takes over SIGINT and SIGTERM for this process; see <see cref="StopAtOnceWhenIdle"/>.</summary>
    public static void Install(bool stopAtOnceWhenIdle)
    {
        StopAtOnceWhenIdle = stopAtOnceWhenIdle;
        RuntimeHelpers.RunClassConstructor(typeof(Libc).TypeHandle);
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
            Registrations.Add(PosixSignalRegistration.Create(signal, OnSignal));
    }

    static void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        // A child (a benchmark cell, an HPO trial) is stopped by its parent, which discards its work and must itself be gone
        // within 2 s: it stops at once, as on a second signal, instead of spending the parent's grace on its own.
        if (Interlocked.Increment(ref _signals) > 1 || IsChild) { Abort(); return; }
        Console.Error.WriteLine($"stopping ({context.Signal}; again to stop at once)...");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // Cancellation callbacks (such as signalling a child process) run off the signal thread, on a thread of their own: a
        // thread-pool item waits up to half a second for a new pool thread while decoding keeps the pool busy.
        new Thread(() =>
        {
            Source.Cancel();
            if (StopAtOnceWhenIdle && PendingOutputs.IsIdle) Abort();
            var left = Grace - clock.Elapsed;
            if (left > TimeSpan.Zero) Thread.Sleep(left);
            // Work that ended while the deadline waited (a step saved to its checkpoint) is unwinding now: it gets a grace of its own.
            if (PendingOutputs.WaitForProtected(ProtectedLimit) == ProtectedWait.Ended) Thread.Sleep(Grace);
            Abort();
        })
        { IsBackground = true, Name = "shutdown deadline" }.Start();
    }

    /// <summary>The command has returned <paramref name="code"/>: a deadline that passes during process teardown exits with it,
    /// silently.</summary>
    public static void Finished(int code) => _finished = code;

    /// <summary>Removes every pending output and ends the process with 130, skipping managed and native shutdown.</summary>
    static void Abort()
    {
        if (_finished is { } code) ExitNow(code);
        PendingOutputs.AbortAll();
        Console.Error.WriteLine("interrupted: stopped; no output written");
        Console.Error.Flush();
        ExitNow(130);
    }

    /// <summary>Sends SIGTERM to a process (a child to stop with us).</summary>
    public static unsafe void Terminate(int pid) => _ = ((delegate* unmanaged<int, int, int>)Libc.Kill)(pid, 15);

    /// <summary>Sends SIGKILL to a process (a child that has not stopped by this process's deadline).</summary>
    public static unsafe void Kill(int pid) => _ = ((delegate* unmanaged<int, int, int>)Libc.Kill)(pid, 9);

    static unsafe void ExitNow(int status) => ((delegate* unmanaged<int, void>)Libc.Exit)(status);

    /// <summary>
    /// libc's <c>_exit</c> and <c>kill</c>, looked up when the handlers are installed: a call bound on first use looks its
    /// library up then, under the dynamic loader's lock, which a process still loading LibTorch holds for most of a second.
    /// </summary>
    static class Libc
    {
        static readonly nint Handle = NativeLibrary.TryLoad("libc.so.6", out nint h) ? h
            : NativeLibrary.Load("libc", typeof(Shutdown).Assembly, null);

        public static readonly nint Exit = NativeLibrary.GetExport(Handle, "_exit");
        public static readonly nint Kill = NativeLibrary.GetExport(Handle, "kill");
    }
}
