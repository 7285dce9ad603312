using System.Runtime.InteropServices;

namespace AnomalySharp.Runtime;

/// <summary>
/// The C library's environment, which native libraries (OpenMP, oneDNN, glibc at an exec) read. .NET's
/// <see cref="Environment.SetEnvironmentVariable(string, string)"/> keeps its own copy and does not reach it.
/// </summary>
internal static partial class NativeEnvironment
{
    /// <summary><c>setenv</c>: true when set; false where it failed or there is no C library to ask.</summary>
    public static bool Set(string name, string value, bool overwrite)
    {
        try { return SetEnv(name, value, overwrite ? 1 : 0) == 0; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
