using AnomalySharp.Build;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Build;

public class TorchSharpGlueTests
{
    static string PackagedGlue()
    {
        string nuget = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string file = Path.Combine(nuget, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(file), file);
        return file;
    }

    [Fact]
    public void PatcherMarksOnlyTheMissingVersionWeakAndIsIdempotent()
    {
        byte[] original = File.ReadAllBytes(PackagedGlue());
        var before = ElfVersionPatcher.ReadRequirements(original);
        Assert.Contains(before,
            r => r.Item1 == "libstdc++.so.6" && r.Item2 == "GLIBCXX_3.4.32" && (r.Item3 & ElfVersionPatcher.VerFlagWeak) == 0);
        byte[] copy = (byte[])original.Clone();
        Assert.Equal(1, ElfVersionPatcher.MarkWeak(copy, new[] { "GLIBCXX_3.4.32" }));
        Assert.Equal(0, ElfVersionPatcher.MarkWeak(copy, new[] { "GLIBCXX_3.4.32" }));
        var after = ElfVersionPatcher.ReadRequirements(copy);
        for (int i = 0; i < before.Count; i++)
        {
            bool target = before[i].Item2 == "GLIBCXX_3.4.32";
            Assert.Equal(target ? before[i].Item3 | ElfVersionPatcher.VerFlagWeak : before[i].Item3, after[i].Item3);
        }
        Assert.Equal(original.Length, copy.Length);
        Assert.Equal(1, original.Zip(copy).Count(p => p.First != p.Second));
    }

    [Fact]
    public void BuildOutputGlueIsPatchedExactlyWhereTheSystemNeedsIt()
    {
        string output = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(output), output);
        bool systemHasIt = ElfVersionPatcher.LibraryDefinesVersion("/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "GLIBCXX_3.4.32");
        var req = ElfVersionPatcher.ReadRequirements(File.ReadAllBytes(output)).Single(r => r.Item2 == "GLIBCXX_3.4.32");
        Assert.Equal(!systemHasIt, (req.Item3 & ElfVersionPatcher.VerFlagWeak) != 0);
        // And the package cache copy was never touched.
        var cached = ElfVersionPatcher.ReadRequirements(File.ReadAllBytes(PackagedGlue())).Single(r => r.Item2 == "GLIBCXX_3.4.32");
        Assert.Equal(0, cached.Item3 & ElfVersionPatcher.VerFlagWeak);
    }

    [Fact]
    public void TorchLoadsAndTrainsATinyModel()
    {
        // Autograd and Adam: the parts of TorchSharp that failed to load before the fix.
        manual_seed(1);
        var w = new TorchSharp.Modules.Parameter(zeros(3));
        var target = tensor(new[] { 1f, -2f, 3f });
        var opt = optim.Adam(new[] { w }, lr: 0.1);
        for (int i = 0; i < 300; i++)
        {
            opt.zero_grad();
            using var loss = (w - target).pow(2).sum();
            loss.backward();
            opt.step();
        }
        Assert.True((w - target).abs().max().item<float>() < 0.05f);
    }
}
