using NATS.Client.Core;

namespace AnomalySharp.Workers;

/// <summary>
/// The headers of a frame message (encoded image bytes in the body) and of a result. The frame id also goes in
/// JetStream's <c>Nats-Msg-Id</c>, so the stream drops a frame published twice and the results stream drops a second
/// result for a frame that was redelivered after its first worker died.
/// </summary>
public static class FrameHeaders
{
    /// <summary>The frame's id, unique per frame.</summary>
    public const string FrameId = "Anomaly-Frame-Id";
    /// <summary>The camera that took it (default: the subject after its first token).</summary>
    public const string Camera = "Anomaly-Camera";
    /// <summary>When it was captured, ISO 8601 UTC.</summary>
    public const string Captured = "Anomaly-Captured";
    /// <summary>The file it came from, when published from files.</summary>
    public const string File = "Anomaly-File";
    /// <summary>JetStream's de-duplication header.</summary>
    public const string MessageId = "Nats-Msg-Id";

    /// <summary>A header's first value, or null.</summary>
    public static string? Get(NatsHeaders? headers, string name) =>
        headers != null && headers.TryGetValue(name,
            out var values) && values.Count > 0 && !string.IsNullOrEmpty(values[0]) ? values[0] : null;

    /// <summary>The camera of a frame: its header, else the subject without its first token ("frames.line1.cam1" → "line1.cam1").</summary>
    public static string CameraOf(NatsHeaders? headers, string subject)
    {
        string? camera = Get(headers, Camera);
        if (camera != null && IsSubjectSafe(camera)) return camera;
        int dot = subject.IndexOf('.', StringComparison.Ordinal);
        return dot >= 0 && dot < subject.Length - 1 ? subject[(dot + 1)..] : subject;
    }

    /// <summary>Whether a value can be used as subject tokens (no wildcards, white space or empty tokens).</summary>
    public static bool IsSubjectSafe(string value) =>
        value.Length is > 0 and <= 256 && !value.Any(c
            => char.IsWhiteSpace(c) || c is '*' or '>' || char.IsControl(c)) && value.Split('.').All(t => t.Length > 0);
}
