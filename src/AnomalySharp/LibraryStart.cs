using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using AnomalySharp.Runtime;

namespace AnomalySharp;

/// <summary>Runs once when the library is first used, before any of its TorchSharp calls.</summary>
static class LibraryStart
{
    /// <summary>
    /// OpenMP reads its wait policy once, when LibTorch loads; every path of this library into TorchSharp passes
    /// through this assembly first, so this is the one moment that is early enough for every caller (see
    /// <see cref="ComputeThreads.PrepareOpenMp"/>). The C heap is told to keep large freed blocks for reuse
    /// (<see cref="NativeHeap.KeepLargeBlocks"/>), which LibTorch's allocator relies on for speed, and oneDNN is kept off
    /// the AVX-512 kernels that gave NaN gradients (<see cref="OneDnnIsa"/>).
    /// </summary>
    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255", Justification = "must run before LibTorch loads, whichever entry point a caller uses first")]
    internal static void Start()
    {
        ComputeThreads.PrepareOpenMp();
        OneDnnIsa.Prepare();
        NativeHeap.KeepLargeBlocks();
    }
}
