using AnomalySharp.Runtime;

namespace AnomalySharp.Configuration;

/// <summary>Applies the runtime section of a configuration to the process.</summary>
internal static class RunSettings
{
    /// <summary>
    /// Sizes LibTorch's pool from runtime.threads (0 = all cores) and returns the count, which the caller gives its
    /// ONNX Runtime sessions too: the two pools take turns, so the run computes on that many cores (see
    /// <see cref="ComputeThreads"/>).
    /// </summary>
    public static int ApplyThreads(ConfigTree config)
    {
        int threads = Threads(config);
        ComputeThreads.PrepareOpenMp();
        OneDnnIsa.Prepare();
        TorchSharp.torch.set_num_threads(threads);
        return threads;
    }

    /// <summary>runtime.threads, with 0 meaning every core.</summary>
    public static int Threads(ConfigTree config) => ComputeThreads.Resolve(config.GetInt("runtime.threads", 0, 4096));
}
