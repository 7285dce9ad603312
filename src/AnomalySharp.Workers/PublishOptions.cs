namespace AnomalySharp.Workers;

/// <summary>What <see cref="FramePublisher"/> sends, where, and how fast.</summary>
public sealed record PublishOptions
{
    /// <summary>NATS server URL(s), comma-separated.</summary>
    public required string Url { get; init; }
    /// <summary>The concrete subject of the frames (e.g. frames.line1.cam1).</summary>
    public required string Subject { get; init; }
    /// <summary>Image files, and folders whose images (recursively, in name order) are sent.</summary>
    public required IReadOnlyList<string> Inputs { get; init; }
    /// <summary>Frames per second (0: as fast as the stream stores them).</summary>
    public double Rate { get; init; }
    /// <summary>Frames to send, cycling through the images (0: each image once).</summary>
    public int Count { get; init; }
    /// <summary>Prefix of the frame ids (default: the camera and the start time); frame ids are the prefix and a running number.</summary>
    public string? IdPrefix { get; init; }
    /// <summary>The camera (default: the subject without its first token).</summary>
    public string? Camera { get; init; }
    /// <summary>Streams created when missing.</summary>
    public StreamLimits Limits { get; init; } = new();
}
