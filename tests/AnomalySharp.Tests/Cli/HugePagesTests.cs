using System.Text.Json.Nodes;
using AnomalySharp.Runtime;
using AnomalySharp.Tests.Models;
using static AnomalySharp.Tests.Cli.CliRunner;

namespace AnomalySharp.Tests.Cli;

/// <summary>A command that fits or scores images restarts itself once with glibc's heap on huge pages (HugePages).</summary>
public class HugePagesTests
{
    [Fact]
    public void TheDecisionNeedsLinuxMadviseModeAGlibcThatKnowsTheSettingAndNoOptOut()
    {
        var glibc = new Version(2, 36);
        Assert.Equal(OperatingSystem.IsLinux(), HugePages.Useful(null, null, false, "madvise", glibc));
        Assert.Equal(OperatingSystem.IsLinux(), HugePages.Useful("glibc.malloc.arena_max=2", null, false, "madvise", glibc));
        Assert.False(HugePages.Useful("glibc.malloc.hugetlb=0", null, false, "madvise", glibc)); // the user's choice stays
        Assert.False(HugePages.Useful(null, "0", false, "madvise", glibc));
        Assert.False(HugePages.Useful(null, null, true, "madvise", glibc)); // never twice
        Assert.False(HugePages.Useful(null, null, false, "always", glibc)); // the heap has them already
        Assert.False(HugePages.Useful(null, null, false, "never", glibc));
        Assert.False(HugePages.Useful(null, null, false, "madvise", new Version(2, 34))); // no such tunable before 2.35
        Assert.False(HugePages.Useful(null, null, false, "madvise", null)); // not glibc
    }

    [Fact]
    public void TrainRestartsOnHugePagesUnlessTurnedOff()
    {
        string mode = File.Exists("/sys/kernel/mm/transparent_hugepage/enabled")
            ? File.ReadAllText("/sys/kernel/mm/transparent_hugepage/enabled") : "";
        var ds = PadimTests.SmallSynthetic();
        string dir = TestPaths.TempDir("huge-pages");
        bool HugePagesOf(string name, Dictionary<string, string> environment)
        {
            string run = Path.Combine(dir, name);
            var r = Run(environment, "train", "--model", "padim", "--data", ds.Root, "--output", run, "--set", "data.image_size=64",
                "--set", "visualization.save_images=false");
            Assert.True(r.ExitCode == 0, r.Stderr);
            return (bool)JsonNode.Parse(File.ReadAllText(Path.Combine(run, "results.json")))!["huge_pages"]!;
        }
        // The test host runs with GLIBC_TUNABLES set (test.runsettings): these runs start without it, as a user's would.
        var plain = new Dictionary<string, string> { ["GLIBC_TUNABLES"] = "", ["ANOMALYSHARP_HUGE_PAGES_RESTARTED"] = "" };
        bool madvise = OperatingSystem.IsLinux() && mode.Contains("[madvise]", StringComparison.Ordinal);
        bool always = OperatingSystem.IsLinux() && mode.Contains("[always]", StringComparison.Ordinal);
        Assert.Equal(madvise || always, HugePagesOf("default", plain));
        Assert.Equal(always, HugePagesOf("off", new Dictionary<string, string>(plain) { [HugePages.Variable] = "0" }));
    }
}
