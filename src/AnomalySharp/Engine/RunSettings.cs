using AnomalySharp.Configuration;

namespace AnomalySharp.Engine;

/// <summary>Applies the runtime section of a configuration to the process.</summary>
public static class RunSettings
{
    /// <summary>Sets TorchSharp's intra-op thread count from runtime.threads (0 = all cores); returns the count used.</summary>
    public static int ApplyThreads(ConfigTree config)
    {
        int threads = Threads(config);
        TorchSharp.torch.set_num_threads(threads);
        return threads;
    }

    /// <summary>runtime.threads, with 0 meaning every core.</summary>
    public static int Threads(ConfigTree config)
    {
        int threads = config.GetInt("runtime.threads", 0, 4096);
        return threads == 0 ? Environment.ProcessorCount : threads;
    }
}
