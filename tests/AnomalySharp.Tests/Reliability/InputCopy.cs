using System.Security.Cryptography;

namespace AnomalySharp.Tests.Reliability;

/// <summary>A writable copy of a real dataset, and a fingerprint of a folder to prove that nothing in it changed.</summary>
internal static class InputCopy
{
    public static string Of(string source, string destination)
    {
        foreach (string dir in Directory.GetDirectories(source, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(destination, Path.GetRelativePath(source, dir)));
        foreach (string file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
            File.Copy(file, Path.Combine(destination, Path.GetRelativePath(source, file)));
        return destination;
    }

    /// <summary>Every file under the folder with its SHA-256, sorted.</summary>
    public static string Fingerprint(string folder) => string.Join("\n",
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal)
            .Select(f => Path.GetRelativePath(folder, f) + " " + Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)))));
}
