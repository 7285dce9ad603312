namespace AnomalySharp.Workers;

/// <summary>
/// The streams and the shared consumer a worker creates when they are missing. Frames are work: kept until acknowledged
/// or <see cref="MaxAge"/> old, at most <see cref="MaxBytes"/> (the oldest go first), each at most
/// <see cref="MaxFrameBytes"/>. A frame not acknowledged within <see cref="AckWait"/> goes to another worker, at most
/// <see cref="MaxDeliver"/> times. Results are de-duplicated by frame id within <see cref="DuplicateWindow"/>, which must
/// outlast every redelivery of a frame (AckWait × MaxDeliver).
/// </summary>
public sealed record StreamLimits
{
    /// <summary>The frames stream.</summary>
    public string FramesStream { get; init; } = "FRAMES";
    /// <summary>The subjects the frames stream captures.</summary>
    public string FramesSubject { get; init; } = "frames.>";
    /// <summary>The results stream (results.&gt; and deadletter.&gt;).</summary>
    public string ResultsStream { get; init; } = "RESULTS";
    /// <summary>How long an unprocessed frame is kept.</summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromHours(24);
    /// <summary>The most bytes of frames kept.</summary>
    public long MaxBytes { get; init; } = 8L << 30;
    /// <summary>The largest frame.</summary>
    public int MaxFrameBytes { get; init; } = 16 << 20;
    /// <summary>How long the results stream keeps results.</summary>
    public TimeSpan ResultsMaxAge { get; init; } = TimeSpan.FromDays(7);
    /// <summary>Replicas of each stream (3 on a three-server cluster).</summary>
    public int Replicas { get; init; } = 1;
    /// <summary>How long a worker has to acknowledge a frame before it goes to another.</summary>
    public TimeSpan AckWait { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Deliveries of a frame before JetStream gives up on it.</summary>
    public int MaxDeliver { get; init; } = 5;
    /// <summary>Frames handed out and not yet acknowledged, over every worker.</summary>
    public int MaxAckPending { get; init; } = 1000;
    /// <summary>Window of the results' de-duplication by frame id.</summary>
    public TimeSpan DuplicateWindow => AckWait * (MaxDeliver + 1) + TimeSpan.FromMinutes(2);

    /// <summary>Checks the values.</summary>
    /// <exception cref="ScaleOutException">A value out of range.</exception>
    public void Validate()
    {
        if (AckWait < TimeSpan.FromMilliseconds(500) || AckWait > TimeSpan.FromDays(1))
            throw new ScaleOutException($"--ack-wait must be 0.5..86400 seconds, got {AckWait.TotalSeconds}");
        if (MaxDeliver is < 1 or > 100) throw new ScaleOutException($"--max-deliver must be 1..100, got {MaxDeliver}");
        if (Replicas is < 1 or > 5) throw new ScaleOutException($"--replicas must be 1..5, got {Replicas}");
        new SubjectPattern(FramesSubject);
    }
}
