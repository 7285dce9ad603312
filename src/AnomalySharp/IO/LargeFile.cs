namespace AnomalySharp.IO;

/// <summary>
/// File streams for checkpoints, model files and graphs (hundreds of megabytes written or read in small pieces by
/// their serializers). With the default 4 KB buffer a 738 MB checkpoint took 180,000 system calls to write.
/// </summary>
internal static class LargeFile
{
    const int BufferBytes = 1 << 20;

    /// <summary>Creates (or truncates) <paramref name="path"/> for writing.</summary>
    public static FileStream Create(string path) =>
        new(path, FileMode.Create, FileAccess.Write, FileShare.None, BufferBytes);

    /// <summary>Opens <paramref name="path"/> for reading, front to back.</summary>
    public static FileStream OpenRead(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferBytes, FileOptions.SequentialScan);
}
