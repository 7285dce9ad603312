namespace AnomalySharp.Workers;

/// <summary>What a worker consumes, which model scores which subject, and how many frames it works on at once.</summary>
public sealed record WorkerOptions
{
    /// <summary>NATS server URL(s), comma-separated.</summary>
    public required string Url { get; init; }
    /// <summary>The exported model for frames no <see cref="ModelsFor"/> pattern matches.</summary>
    public required string Model { get; init; }
    /// <summary>Models for subjects matching a pattern, first match first.</summary>
    public IReadOnlyList<(SubjectPattern Pattern, string Model)> ModelsFor { get; init; } = Array.Empty<(SubjectPattern, string)>();
    /// <summary>The subjects this worker takes frames from (within the frames stream).</summary>
    public string Subject { get; init; } = "frames.>";
    /// <summary>The durable consumer shared by every worker: each frame goes to one of them.</summary>
    public string Durable { get; init; } = "anomalysharp-workers";
    /// <summary>Streams and consumer limits.</summary>
    public StreamLimits Limits { get; init; } = new();
    /// <summary>
    /// Frames scored at once (ONNX Runtime sessions); the worker holds no more frames than this. Two by default (one per
    /// core on a 2-core machine): while one frame is decoded or its result stored, the other is scored — on 2 cores,
    /// 2 sessions × 1 thread drained 28.0 frames/s where 1 session × 2 threads drained 21.3 (bench -- --workers).
    /// </summary>
    public int Sessions { get; init; } = Math.Min(2, Environment.ProcessorCount);
    /// <summary>Threads per session (0: the cores divided among the sessions).</summary>
    public int ThreadsPerSession { get; init; }
    /// <summary>Whether results carry the predicted mask as a PNG.</summary>
    public bool Masks { get; init; }
    /// <summary>How long one pull waits for a frame before it asks again.</summary>
    public TimeSpan PullExpires { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>How long a result's publication is retried (a broker failing over) before the frame is handed back.</summary>
    public TimeSpan PublishRetry { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Checks every value, the stream limits' too, naming the option a value came from.</summary>
    /// <exception cref="ScaleOutException">A value out of range.</exception>
    public void Validate()
    {
        Limits.Validate();
        if (Sessions is < 1 or > 64) throw new ScaleOutException($"--sessions must be 1..64, got {Sessions}");
        if (ThreadsPerSession < 0) throw new ScaleOutException($"--threads must be positive, got {ThreadsPerSession}");
        if (Durable.Length is 0 or > 64 || !Durable.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            throw new ScaleOutException($"--durable {Durable}: letters, digits, '-' and '_' only, at most 64");
        try { _ = new SubjectPattern(Subject); }
        catch (ArgumentException e) { throw new ScaleOutException($"--subject: {e.Message}"); }
    }
}
