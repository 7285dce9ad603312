using System.Globalization;
using Microsoft.ML.OnnxRuntime;

namespace AnomalySharp.Runtime;

/// <summary>
/// The one owner of the process's compute threads. Two pools do the arithmetic: ONNX Runtime's intra-op pool (the
/// backbone, every exported graph) and LibTorch's OpenMP pool (fitting statistics, coresets, training). Both spin-wait
/// when idle by default, and a fit alternates between them, so one pool burns the cores while the other works; beside
/// other software the spinning takes the very cores the work needs (PaDiM train 4.9× slower at a fair share of half
/// the machine). Here idle threads go to sleep almost at once: every ONNX Runtime session is made by
/// <see cref="SessionOptions"/> with spinning off, and OpenMP's spin is cut to <see cref="OpenMpSpinCount"/>
/// iterations before LibTorch loads (<see cref="PrepareOpenMp"/>). Both pools are sized with the same thread count and
/// take turns, never overlapping, so a run uses at most that many cores for arithmetic. <c>ANOMALYSHARP_SPIN=1</c>
/// restores both libraries' defaults on a machine that is the model's alone; an <c>OMP_WAIT_POLICY</c> or
/// <c>GOMP_SPINCOUNT</c> the user set is left as it is.
/// </summary>
public static class ComputeThreads
{
    /// <summary>The environment variable that turns spin-waiting back on ("1").</summary>
    public const string SpinVariable = "ANOMALYSHARP_SPIN";
    static int _prepared;

    /// <summary>
    /// How long an idle OpenMP thread spins before it sleeps (<c>GOMP_SPINCOUNT</c>, iterations of a pause loop: a few
    /// microseconds). Measured on PaDiM's fit (2 cores, 2 threads): OpenMP's default of 300,000 made it 11× slower
    /// beside two busy processes; no spin at all (<c>OMP_WAIT_POLICY=PASSIVE</c>) doubled it on a quiet machine,
    /// because its statistics run many short parallel regions and every one then waits for sleeping threads to wake;
    /// 2,000 was as fast as the default when quiet and about 2× slower beside the busy processes, a fair share.
    /// </summary>
    public const int OpenMpSpinCount = 2000;

    /// <summary>Whether idle compute threads spin (<c>ANOMALYSHARP_SPIN=1</c>); false by default.</summary>
    public static bool Spin { get; } = Environment.GetEnvironmentVariable(SpinVariable) == "1";

    /// <summary>Cores this process may use (affinity and container limits included).</summary>
    public static int Cores => Environment.ProcessorCount;

    /// <summary>A thread count with 0 (or less) meaning every core.</summary>
    public static int Resolve(int threads) => threads > 0 ? threads : Cores;

    /// <summary>
    /// Makes LibTorch's idle OpenMP threads sleep after a short spin (<see cref="OpenMpSpinCount"/>). OpenMP reads its
    /// settings once, when LibTorch's library is loaded, and .NET's
    /// <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not reach the C library's environment, so
    /// this calls <c>setenv</c> itself; it must run before the first TorchSharp call (the library's module initializer
    /// and the command line's first line call it). Idempotent.
    /// </summary>
    public static void PrepareOpenMp()
    {
        if (Interlocked.Exchange(ref _prepared, 1) == 1 || Spin) return;
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") != null
            || Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") != null) return;
        NativeEnvironment.Set("GOMP_SPINCOUNT", OpenMpSpinCount.ToString(CultureInfo.InvariantCulture), overwrite: false);
    }

    /// <summary>
    /// Options for an ONNX Runtime session of this process: full graph optimization, <paramref name="threads"/>
    /// intra-op threads (0 = every core), one inter-op thread, spinning as <see cref="Spin"/> says, errors-only logging.
    /// </summary>
    /// <param name="threads">Intra-op threads, the calling thread included.</param>
    /// <param name="arena">The CPU memory arena (off for graphs that see inputs of every size).</param>
    public static SessionOptions SessionOptions(int threads, bool arena = true)
    {
        var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
            IntraOpNumThreads = Resolve(threads),
            InterOpNumThreads = 1,
            EnableCpuMemArena = arena,
        };
        string spin = Spin ? "1" : "0";
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", spin);
        options.AddSessionConfigEntry("session.inter_op.allow_spinning", spin);
        return options;
    }

    /// <summary>
    /// Threads per session for <paramref name="sessions"/> concurrent sessions: <paramref name="requested"/> when
    /// given, else the cores shared out (at least one). <paramref name="warning"/> says when the sessions ask for more
    /// threads than there are cores, which makes them slower together, not faster.
    /// </summary>
    public static int PerSession(int sessions, int requested, out string? warning)
    {
        int threads = requested > 0 ? requested : Math.Max(1, Cores / Math.Max(1, sessions));
        warning = sessions * threads > Cores
            ? string.Create(CultureInfo.InvariantCulture,
                $"{sessions} sessions × {threads} threads = {sessions * threads} threads on {Cores} cores: oversubscribed; each "
                    + $"request will be slower")
            : null;
        return threads;
    }
}
