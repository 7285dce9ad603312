namespace AnomalySharp.Runtime;

/// <summary>How an <see cref="OnnxAnomalyDetector"/> runs.</summary>
public sealed record DetectorOptions
{
    /// <summary>ONNX Runtime sessions in the pool: concurrent callers each take one (default 1).</summary>
    public int Sessions { get; init; } = 1;
    /// <summary>Intra-op threads per session (0: every core).</summary>
    public int ThreadsPerSession { get; init; }
    /// <summary>Largest accepted width·height of an input image.</summary>
    public long MaxPixels { get; init; } = ImageDecoder.DefaultMaxPixels;
    /// <summary>Largest image file read by <see cref="OnnxAnomalyDetector.ReadFile"/> (default 256 MB).</summary>
    public long MaxFileBytes { get; init; } = 256L << 20;
}
