namespace AnomalySharp.Metrics;

/// <summary>The temporary files a large evaluation spills to (sorted pixel keys, maps, masks, pictures): in TMPDIR, deleted when
/// closed.</summary>
internal static class ScratchFile
{
    /// <summary>Creates a new scratch file, named after the process, with <paramref name="extension"/>.</summary>
    public static FileStream Create(string extension, int bufferSize) =>
        new(Path.Combine(Path.GetTempPath(), $"anomalysharp-{Environment.ProcessId}-{Guid.NewGuid():N}.{extension}"),
            FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, bufferSize, FileOptions.DeleteOnClose);

    /// <summary>The user-facing error for a write that failed (a full disk, most often).</summary>
    public static AnomalySharpException WriteFailed(string what, IOException e) =>
        new($"cannot write the evaluation's {what} in {Path.GetTempPath()} (set TMPDIR to a disk with room): {e.Message}");
}
