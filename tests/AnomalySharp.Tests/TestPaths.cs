namespace AnomalySharp.Tests;

/// <summary>Where the repository and the shared real data are.</summary>
internal static class TestPaths
{
    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir != null && !File.Exists(Path.Combine(dir.FullName, "AnomalySharp.slnx"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
        }
    }

    /// <summary>../shared/data beside the repository, or ANOMALYSHARP_DATA. Tests that need it fail (never skip) when absent.</summary>
    public static string SharedData(string name)
    {
        string root = Environment.GetEnvironmentVariable("ANOMALYSHARP_DATA") is { Length: > 0 } env
            ? env : Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data"));
        string path = Path.Combine(root, name);
        Assert.True(Directory.Exists(path), $"real data missing: {path} (place ../shared/data beside the repository or set ANOMALYSHARP_DATA)");
        return path;
    }

    public static string TempDir(string prefix)
    {
        string dir = Path.Combine(Path.GetTempPath(), "anomalysharp-tests", prefix + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }
}
