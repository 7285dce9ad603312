using System.Diagnostics;

namespace AnomalySharp.Tests.Build;

/// <summary>
/// The compiler rewrites its output in obj/ in place; build/PrivateOutputs.targets keeps that file from being any bin's
/// copy, so that a build beside a running `anomalysharp` cannot change the program under it.
/// </summary>
public class PrivateOutputsTests
{
    [Fact]
    public void NoBinaryOfThisRunIsTheFileTheCompilerWritesNext()
    {
        if (OperatingSystem.IsWindows()) return; // Windows refuses to write a loaded assembly; the targets do nothing there
        string bin = AppContext.BaseDirectory.TrimEnd('/');
        string framework = Path.GetFileName(bin), configuration = Path.GetFileName(Path.GetDirectoryName(bin)!);
        Assert.True(Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(bin)!)) == "bin", $"{bin} is not a build's bin");
        foreach (string name in new[] { "AnomalySharp", "AnomalySharp.Runtime", "AnomalySharp.Serving", "AnomalySharp.Workers",
            "AnomalySharp.Cli" })
        {
            string compiled = Path.Combine(TestPaths.RepoRoot, "src", name, "obj", configuration, framework, name + ".dll");
            string loaded = Path.Combine(bin, name + ".dll");
            Assert.True(File.Exists(compiled) && File.Exists(loaded), $"{compiled} or {loaded} is missing");
            var (compiledInode, compiledLinks) = Stat(compiled);
            Assert.NotEqual(compiledInode, Stat(loaded).Inode);
            Assert.True(compiledLinks == 1, $"{compiled} has {compiledLinks} names: a bin shares the compiler's output");
        }
    }

    internal static (long Inode, int Links) Stat(string path)
    {
        var psi = new ProcessStartInfo("stat", ["-L", "-c", "%i %h", path]) { RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        string[] fields = p.StandardOutput.ReadToEnd().Trim().Split(' ');
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return (long.Parse(fields[0], System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture));
    }
}
