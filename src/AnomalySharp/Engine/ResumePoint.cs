using AnomalySharp.Training;

namespace AnomalySharp.Engine;

/// <summary>A checkpoint to continue from, with its header read once: the training checks it against the run.</summary>
/// <param name="Path">The checkpoint file.</param>
/// <param name="Header">Its header (model, configuration, dataset).</param>
internal sealed record ResumePoint(string Path, Checkpoint Header)
{
    /// <summary>Reads <paramref name="path"/>'s header; null for no checkpoint.</summary>
    /// <exception cref="AnomalySharpException">The file is not a checkpoint.</exception>
    public static ResumePoint? Read(string? path) => path is null ? null : new ResumePoint(path, Checkpoint.ReadHeader(path));
}
