using AnomalySharp.Export;
using AnomalySharp.IO;
using CsCheck;
using Onnx;

namespace AnomalySharp.Tests.Reliability;

/// <summary>
/// Property: whatever output path a user types (symbolic links, "..", ".", trailing separators, relative or absolute),
/// a command never writes inside one of its inputs. Every command writes the same two ways: a folder through
/// <see cref="OutputGuard.CheckNotInput"/> then <see cref="StagedOutput"/> (train, test, predict, Triton), a file through
/// the guard then <see cref="OnnxExporter.Save"/> (export). Both run here for real, with --overwrite, against inputs
/// that look like our own outputs (the worst case: they hold results.json), and the inputs are fingerprinted before
/// and after.
/// </summary>
// Allocates heavily (3,000 generated cases with their folders): alone, so its collections never land in another test's TorchSharp call.
[Collection(IsolatedCollection.Name)]
[Trait(IsolatedCollection.Trait, IsolatedCollection.Value)]
public class OutputPathPropertyTests
{
    /// <summary>Path components, ".." and the links weighted up: the dangerous paths are a ".." right after a link.</summary>
    static readonly Gen<string> Part = Gen.Frequency((4, ".."), (3, "lx"), (1, "lo"), (1, "lin"), (3, "in"), (1, "other"), (1, "x"),
        (1, "."), (1, "new"), (1, "results.json"), (1, "m.onnx"));

    /// <summary>A fresh tree: the inputs (a folder with results.json, a file), folders beside them, and links into and around
    /// them.</summary>
    static string Tree(bool inputLinksOut)
    {
        // Eight folders deep inside the test's own folder: a generated path climbs at most five "..", even after a link
        // (whose target is at most two deeper), so nothing is ever written outside it.
        string dir = Path.Combine(TestPaths.TempDir("outpath"), "1", "2", "3", "4", "5", "6", "7", "8");
        Directory.CreateDirectory(dir);
        Directory.CreateDirectory(Path.Combine(dir, "in", "x"));
        File.WriteAllText(Path.Combine(dir, "in", "results.json"), "{}");
        File.WriteAllText(Path.Combine(dir, "in", "x", "m.onnx"), "model");
        Directory.CreateDirectory(Path.Combine(dir, "other", "x", "in"));
        File.WriteAllText(Path.Combine(dir, "other", "x", "in", "results.json"), "{}");
        File.CreateSymbolicLink(Path.Combine(dir, "lin"), Path.Combine(dir, "in"));            // a link to the input
        File.CreateSymbolicLink(Path.Combine(dir, "lx"), Path.Combine(dir, "other", "x"));     // a link whose ".." is "other"
        File.CreateSymbolicLink(Path.Combine(dir, "other", "lo"), Path.Combine(dir, "in", "x")); // a link into the input, elsewhere
        if (inputLinksOut) File.CreateSymbolicLink(Path.Combine(dir, "in", "lo"), "../other"); // a relative link out of the input
        return dir;
    }

    static readonly Gen<(string[] Parts, bool Relative, bool Trailing, bool File, int InputForm, bool InputLinksOut)> Cases =
        Gen.Select(Part.Array[1, 5], Gen.Bool, Gen.Bool, Gen.Bool, Gen.Int[0, 2], Gen.Bool);

    [Fact]
    public void NoOutputPathEverWritesInsideAnInput()
    {
        Cases.Sample(c =>
        {
            string dir = Tree(c.InputLinksOut);
            string input = Path.Combine(dir, "in");
            string inputFile = Path.Combine(dir, "in", "x", "m.onnx");
            // The input as the user may give it: plainly, through a link to it, or through a ".." after a link.
            string inputAsGiven = c.InputForm switch
            {
                0 => input,
                1 => Path.Combine(dir, "lin"),
                _ => Path.Combine(dir, "other", "lo",
                "..", "..", "in")
            };
            string baseDir = c.Relative ? Path.GetRelativePath(Directory.GetCurrentDirectory(), dir) : dir;
            string output = Path.Combine(new[] { baseDir }.Concat(c.Parts).ToArray()) + (c.Trailing ? Path.DirectorySeparatorChar : "");
            string before = InputCopy.Fingerprint(input);
            var inputs = new[] { new OutputGuard.Input(inputAsGiven, "input"), new OutputGuard.Input(inputFile, "model") };
            try
            {
                if (c.File)
                {
                    OutputGuard.CheckNotInput(output, "output", inputs);
                    OnnxExporter.Save(new ModelProto { Graph = new GraphProto { Name = "g" } }, output);
                }
                else
                {
                    OutputGuard.CheckNotInput(output, "output", inputs);
                    using var staged = new StagedOutput(output, overwrite: true, "results.json");
                    File.WriteAllText(Path.Combine(staged.Path, "results.json"), "{\"new\":1}");
                    staged.Commit();
                }
            }
            catch (AnomalySharpException) { } // refused with a message: nothing written
            Assert.StartsWith(Path.GetFullPath(Path.Combine(dir, "..", "..", "..", "..", "..", "..", "..", "..")),
                Path.GetFullPath(output), StringComparison.Ordinal);
            string after = Directory.Exists(input) ? InputCopy.Fingerprint(input) : "(input deleted)";
            Assert.True(before == after, $"output '{output}' (input given as '{inputAsGiven}') changed the input:\n{before}\n--- now "
                + $"---\n{after}");
            Assert.True(File.Exists(inputFile), $"output '{output}' removed the model file");
        }, seed: "0N0XIzNsQ0O2", iter: 3000, threads: 1);
    }

    [Fact]
    public void DotDotAfterALinkIsRefusedAsAnOutputButReadBothWaysAsAnInput()
    {
        string dir = Tree(inputLinksOut: false);
        string ambiguous = Path.Combine(dir, "lx", "..", "in"); // the kernel: other/in; .NET: in
        var e = Assert.Throws<AnomalySharpException>(() => OutputGuard.CheckNotInput(ambiguous, "output"));
        Assert.Contains("names two places", e.Message);
        Assert.Contains(Path.Combine(dir, "other", "in"), e.Message);
        Assert.Contains(Path.Combine(dir, "in"), e.Message);
        Assert.Throws<AnomalySharpException>(() => new StagedOutput(ambiguous, overwrite: true));
        // As an input, the same text is compared in both readings: neither folder may be the output.
        foreach (string output in new[] { Path.Combine(dir, "in"), Path.Combine(dir, "other", "in") })
        {
            var e2 = Assert.Throws<AnomalySharpException>(() => OutputGuard.CheckNotInput(output, "output",
                new OutputGuard.Input(ambiguous, "model")));
            Assert.Contains("is the model", e2.Message);
        }
        // A link without ".." after it is one place, and allowed.
        Assert.Equal(Path.Combine(dir, "other", "x", "new"), OutputGuard.CheckUnambiguous(Path.Combine(dir, "lx", "new"), "output"));
    }
}
