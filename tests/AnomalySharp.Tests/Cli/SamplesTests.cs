using System.Diagnostics;
using AnomalySharp.Tests.Models;

namespace AnomalySharp.Tests.Cli;

public class SamplesTests
{
    [Fact]
    public void TheQuickStartSampleInTheReadmeRuns()
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "AnomalySharp.Samples.QuickStart.dll");
        Assert.True(File.Exists(dll), dll);
        var ds = PadimTests.SmallSynthetic();
        string output = Path.Combine(TestPaths.TempDir("quickstart"), "out");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { dll, ds.Root, output }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(3)));
        Assert.True(p.ExitCode == 0, stderr);
        Assert.Contains("image AUROC", stdout);
        Assert.Equal(8, stdout.Split('\n').Count(l => l.Contains(": score ")));
        Assert.True(File.Exists(Path.Combine(output, "model.anomalysharp")));
        Assert.Single(stdout.Split('\n'), l => l.StartsWith("onnx ", StringComparison.Ordinal) && l.Contains("score"));
        Assert.True(File.Exists(Path.Combine(output, "model.onnx")));
    }
}
