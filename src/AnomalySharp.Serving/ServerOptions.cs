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
    /// <summary>
    /// Uploads read at once (default 32). A body is read in full before it waits for a session, so a slow client holds
    /// an upload slot, never a session; at most this many bodies (each up to <see cref="MaxRequestBytes"/>) are in
    /// memory, and a request beyond them gets 503 at once.
    /// </summary>
    public int Uploads { get; init; } = 32;
    /// <summary>
    /// The slowest upload accepted, in bytes per second after a 5-second grace (default 16 KiB/s): a client trickling
    /// its body slower is cut off (Kestrel's minimum request body data rate).
    /// </summary>
    public double MinUploadBytesPerSecond { get; init; } = 16 * 1024;
    /// <summary>The longest a request body may take to arrive, whatever its rate (default 30 s); then 408.</summary>
    public TimeSpan BodyTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>How long a stop (Ctrl-C, SIGTERM) waits for requests in flight before cutting them (default 5 s, under docker's 10).</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Largest accepted image width·height (a decompression bomb is refused from its header).</summary>
    public long MaxPixels { get; init; } = 40_000_000;
}
