using System.Runtime.InteropServices;

namespace AnomalySharp.Runtime;

/// <summary>
/// Reads a file that nobody vouches for (a config, a search space, a model, a frame, an image in a watched folder)
/// within a byte limit decided before reading. Only regular files are read: a device (/dev/zero reports a length of 0
/// and never ends), a FIFO (blocks until someone writes) or a socket is refused, whether named directly or through a
/// symbolic link. The limit is enforced on the bytes actually read too, so a file that grows while it is read cannot
/// pass it.
/// </summary>
public static partial class BoundedFile
{
    /// <summary>What a path is, after following symbolic links.</summary>
    public enum Kind
    {
        /// <summary>Nothing there (or a dangling link).</summary>
        Missing,
        /// <summary>A regular file.</summary>
        Regular,
        /// <summary>A folder.</summary>
        Directory,
        /// <summary>A device, FIFO or socket.</summary>
        Special,
    }

    /// <summary>Why a file was refused, for callers whose errors differ by cause.</summary>
    public enum Problem
    {
        /// <summary>Nothing there.</summary>
        Missing,
        /// <summary>A folder, device, FIFO or socket.</summary>
        NotAFile,
        /// <summary>Over the byte limit.</summary>
        TooLarge,
        /// <summary>The read itself failed.</summary>
        Unreadable,
    }

    /// <summary>What <paramref name="path"/> is (links followed).</summary>
    public static Kind KindOf(string path)
    {
        if (Directory.Exists(path)) return Kind.Directory;
        if (!File.Exists(path)) return Kind.Missing;
        int? mode = Mode(path);
        return mode is null || (mode.Value & FileTypeMask) == RegularFile ? Kind.Regular : Kind.Special;
    }

    /// <summary>
    /// The bytes of a regular file of at most <paramref name="maxBytes"/>; otherwise throws what
    /// <paramref name="error"/> makes of the problem and a one-line reason that names the file.
    /// </summary>
    public static byte[] ReadAllBytes(string path, long maxBytes, Func<Problem, string, Exception> error)
    {
        CheckRegular(path, error);
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
            long length = stream.Length;
            if (length > maxBytes) throw error(Problem.TooLarge, $"{path}: {length} bytes is over the limit of {maxBytes}");
            var buffer = new MemoryStream((int)Math.Min(length, int.MaxValue));
            var chunk = new byte[Math.Clamp(length, 4096, 1 << 20)];
            long total = 0;
            int n;
            while ((n = stream.Read(chunk, 0, chunk.Length)) > 0)
            {
                total += n;
                if (total > maxBytes) throw error(Problem.TooLarge,
                    $"{path}: over the limit of {maxBytes} bytes (it grew while being read)");
                buffer.Write(chunk, 0, n);
            }
            return buffer.Length == buffer.Capacity ? buffer.GetBuffer() : buffer.ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw error(Problem.Unreadable, $"{path}: cannot read ({e.Message})");
        }
    }

    /// <summary>The UTF-8 text of a regular file of at most <paramref name="maxBytes"/> (see <see cref="ReadAllBytes"/>).</summary>
    public static string ReadAllText(string path, long maxBytes, Func<Problem, string, Exception> error)
    {
        byte[] bytes = ReadAllBytes(path, maxBytes, error);
        return new StreamReader(new MemoryStream(bytes), System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true).ReadToEnd();
    }

    /// <summary>Throws unless <paramref name="path"/> is a regular file (links followed).</summary>
    public static void CheckRegular(string path, Func<Problem, string, Exception> error)
    {
        switch (KindOf(path))
        {
            case Kind.Missing: throw error(Problem.Missing, $"{path}: file not found");
            case Kind.Directory: throw error(Problem.NotAFile, $"{path}: is a folder, not a file");
            case Kind.Special: throw error(Problem.NotAFile, $"{path}: not a regular file (a device, pipe or socket); refused");
        }
    }

    // .NET's own stat (libSystem.Native, shipped with every runtime): a FileStatus whose second int is the mode with the
    // file type bits in the PAL's constants, the same on every platform.
    const int FileTypeMask = 0xF000, RegularFile = 0x8000;
    static bool _unavailable;

    static unsafe int? Mode(string path)
    {
        if (_unavailable || OperatingSystem.IsWindows()) return null;
        byte* status = stackalloc byte[256];
        try
        {
            if (SystemNativeStat(path, status) != 0) return null;
            return *(int*)(status + 4);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _unavailable = true;
            return null;
        }
    }

    [LibraryImport("libSystem.Native", EntryPoint = "SystemNative_Stat", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int SystemNativeStat(string path, byte* status);
}
