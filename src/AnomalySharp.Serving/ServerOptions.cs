namespace AnomalySharp.Serving;

/// <summary>How an <see cref="AnomalyServer"/> listens and runs.</summary>
public sealed record ServerOptions
{
    /// <summary>The exported .onnx model.</summary>
    public required string ModelPath { get; init; }
    /// <summary>Address to bind (default 127.0.0.1: loopback only).</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>Port (0: any free port; see <see cref="AnomalyServer.Address"/>).</summary>
    public int Port { get; init; } = 8080;
    /// <summary>Two sessions, or one on a single core: the default of <see cref="Sessions"/>.</summary>
    public static int DefaultSessions => Math.Min(2, AnomalySharp.Runtime.ComputeThreads.Cores);
    /// <summary>ONNX Runtime sessions serving requests concurrently.</summary>
    public int Sessions { get; init; } = DefaultSessions;
    /// <summary>Requests that may wait for a session; more get 503 with Retry-After (default 64).</summary>
    public int QueueLength { get; init; } = 64;
    /// <summary>Threads per session (0: cores / sessions, at least one).</summary>
    public int ThreadsPerSession { get; init; }
    /// <summary>Largest accepted request body in bytes.</summary>
    public long MaxRequestBytes { get; init; } = 20L << 20;
    /// <summary>Largest accepted image width·height (a decompression bomb is refused from its header).</summary>
    public long MaxPixels { get; init; } = 40_000_000;
}
