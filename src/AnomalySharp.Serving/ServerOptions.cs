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
    /// <summary>How long a stop (Ctrl-C, SIGTERM) waits for requests in flight before cutting them (default 5 s, under docker's
    /// 10).</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Largest accepted image width·height (a decompression bomb is refused from its header).</summary>
    public long MaxPixels { get; init; } = 40_000_000;

    /// <summary>
    /// Checks every setting's range; the message names the `serve` option a user gives it with. Called by
    /// <see cref="AnomalyServer.StartAsync"/>, so a library caller gets the same checks as the command line.
    /// </summary>
    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public void Validate()
    {
        if (!System.Net.IPAddress.TryParse(Host, out _)) throw new ArgumentException($"--host: '{Host}' is not an IP address");
        if (Port is < 0 or > 65535) throw new ArgumentException($"--port: {Port} is not a port number (0..65535)");
        if (Sessions is < 1 or > 64) throw new ArgumentException($"--sessions must be 1..64, got {Sessions}");
        if (ThreadsPerSession < 0) throw new ArgumentException($"--threads must be positive, got {ThreadsPerSession}");
        if (MaxRequestBytes <= 0)
            throw new ArgumentException(FormattableString.Invariant($"--max-request-mb must be positive, got ")
                + FormattableString.Invariant($"{MaxRequestBytes / 1048576.0}"));
        if (QueueLength is < 0 or > 100_000) throw new ArgumentException($"--queue must be 0..100000, got {QueueLength}");
        if (Uploads is < 1 or > 10_000) throw new ArgumentException($"--uploads must be 1..10000, got {Uploads}");
        if (!(MinUploadBytesPerSecond > 0) || double.IsInfinity(MinUploadBytesPerSecond))
            throw new ArgumentException(FormattableString.Invariant($"--min-upload-kbps must be positive, got ")
                + FormattableString.Invariant($"{MinUploadBytesPerSecond / 1024}"));
        if (BodyTimeout <= TimeSpan.Zero || BodyTimeout > TimeSpan.FromDays(1))
            throw new ArgumentException(FormattableString.Invariant($"--body-timeout must be 0..86400 seconds, got ")
                + FormattableString.Invariant($"{BodyTimeout.TotalSeconds}"));
    }
}
