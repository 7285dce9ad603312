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
        Assert.True(Directory.Exists(path),
            $"real data missing: {path} (place ../shared/data beside the repository or set ANOMALYSHARP_DATA)");
        return path;
    }

    private static readonly Lazy<string> RunRoot = new(CreateRunRoot);

    /// <summary>
    /// A fresh folder under this test process's own root (anomalysharp-tests/run-PID). Checkpoints and exports add up
    /// to 2.5 GB per run. The root is deleted when the process exits, if the runner lets the exit handler finish
    /// (vstest often ends its test host first). Roots left by processes that no longer run are deleted when the next
    /// run starts, so at most one run's folders stay on disk.
    /// </summary>
    public static string TempDir(string prefix)
    {
        string dir = Path.Combine(RunRoot.Value, prefix + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string CreateRunRoot()
    {
        string parent = Path.Combine(Path.GetTempPath(), "anomalysharp-tests");
        Directory.CreateDirectory(parent);
        foreach (string stale in Directory.EnumerateDirectories(parent, "run-*"))
        {
            if (int.TryParse(Path.GetFileName(stale)["run-".Length..], out int pid) && !IsRunning(pid)) TryDelete(stale);
        }
        string root = Path.Combine(parent, $"run-{Environment.ProcessId}");
        Directory.CreateDirectory(root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(root);
        return root;
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static void TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
            // best effort: a file still open elsewhere; the next run retries
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
