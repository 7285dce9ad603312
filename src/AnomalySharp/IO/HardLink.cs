using System.Runtime.InteropServices;

namespace AnomalySharp.IO;

/// <summary>
/// A second name for a file's bytes (POSIX <c>link</c>), for a copy that is never written to in place: both names
/// read the same bytes until one of them is replaced by a rename, which gives that name a new file.
/// </summary>
internal static partial class HardLink
{
    /// <summary>Links <paramref name="newPath"/> to <paramref name="existing"/>; false where the file system, the
    /// platform or the C library cannot (the caller copies instead).</summary>
    public static bool TryCreate(string existing, string newPath)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return false;
        try { return Link(existing, newPath) == 0; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string existing, string newPath);
}
