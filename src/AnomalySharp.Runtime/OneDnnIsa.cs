using System.Runtime.Intrinsics.X86;

namespace AnomalySharp.Runtime;

/// <summary>
/// Keeps LibTorch's oneDNN kernels (the convolutions of training) on AVX2 where the CPU has AVX-512. Measured on an AMD
/// EPYC with AVX-512 on 2 threads: the backward pass of FastFlow's coupling block (two 3×3 convolutions) gave NaN
/// gradients now and then — in 6 of 8 processes, 1 to 6 of 100 backward passes each, and once in 420 passes at 16×16 —
/// and none in 800 passes with oneDNN held to AVX2 (none either on 1 thread). A gradient that is NaN ends a run as
/// "training diverged"; one that is merely wrong would pass unseen. Inference (ONNX Runtime) does not use oneDNN.
/// A user's own <c>ONEDNN_MAX_CPU_ISA</c> (or <c>DNNL_MAX_CPU_ISA</c>) is left as it is; <c>ANOMALYSHARP_ONEDNN_ISA=native</c>
/// lets oneDNN use every extension the CPU has.
/// </summary>
public static class OneDnnIsa
{
    /// <summary>The environment variable that lets oneDNN use AVX-512 again ("native").</summary>
    public const string Variable = "ANOMALYSHARP_ONEDNN_ISA";

    static int _prepared;

    /// <summary>
    /// Sets <c>ONEDNN_MAX_CPU_ISA=AVX2</c> in the C library's environment where it helps; oneDNN reads it at its first
    /// kernel, so this must run before the first TorchSharp convolution (the library's module initializer and the command
    /// line's first line call it). Idempotent.
    /// </summary>
    public static void Prepare()
    {
        if (Interlocked.Exchange(ref _prepared, 1) == 1) return;
        if (!Useful(Environment.GetEnvironmentVariable("ONEDNN_MAX_CPU_ISA") ?? Environment.GetEnvironmentVariable("DNNL_MAX_CPU_ISA"),
            Environment.GetEnvironmentVariable(Variable), Avx512F.IsSupported)) return;
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        NativeEnvironment.Set("ONEDNN_MAX_CPU_ISA", "AVX2", overwrite: false);
    }

    /// <summary>Whether <see cref="Prepare"/> caps oneDNN: the CPU has AVX-512, and neither the user nor the setting says
    /// otherwise.</summary>
    public static bool Useful(string? userIsa, string? setting, bool avx512) => avx512 && userIsa is null && setting != "native";
}
