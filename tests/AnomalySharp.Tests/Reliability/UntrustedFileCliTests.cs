using System.Diagnostics;
using AnomalySharp.Configuration;
using AnomalySharp.Runtime;
using AnomalySharp.Tests.Export;
using AnomalySharp.Tests.Workers;
using static AnomalySharp.Tests.Cli.CliRunner;

namespace AnomalySharp.Tests.Reliability;

/// <summary>
/// Files a user names are bounded before they are trusted (issue 40 C, D, G, H): a YAML alias bomb or 100,000 nested
/// brackets, a device, a FIFO or a link to one, and a layer list of 10,000 entries each give exit 2 and one line,
/// through every option that reads them, instead of gigabytes, a stack overflow or a hang.
/// </summary>
public class UntrustedFileCliTests
{
    /// <summary>Nine levels of nine aliases under model.layers: 430 bytes that stand for 387 million values.</summary>
    static string AliasBomb()
    {
        var inner = "[&a0 [l, l, l, l, l, l, l, l, l]";
        for (int i = 1; i < 10; i++) inner += $", &a{i} [" + string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 9)) + "]";
        return inner + "]";
    }

    [Fact]
    public void AliasBombsAndDeepNestingAreRefusedThroughEveryOptionThatReadsYaml()
    {
        string dir = TestPaths.TempDir("yaml-limits");
        string data = TestPaths.SharedData("hazelnut_toy");
        string bomb = Path.Combine(dir, "bomb.yaml"), deep = Path.Combine(dir, "deep.yaml"), space = Path.Combine(dir, "space.yaml");
        File.WriteAllText(bomb, "model:\n  layers: " + AliasBomb() + "\n");
        File.WriteAllText(deep, "model: {layers: " + new string('[', 100_000) + new string(']', 100_000) + "}\n");
        File.WriteAllText(space, "model.layers: {choice: " + AliasBomb() + "}\n");
        string deepSpace = Path.Combine(dir, "deep-space.yaml");
        File.WriteAllText(deepSpace, "model.layers: {choice: " + new string('[', 100_000) + new string(']', 100_000) + "}\n");
        string output = Path.Combine(dir, "out");

        AssertUserError(Run("train", "--data", data, "--config", bomb, "--output", output), bomb, "once its aliases (*name) are expanded");
        AssertUserError(Run("train", "--data", data, "--set", "model.layers=" + AliasBomb(), "--output", output), "--set model.layers",
            "aliases");
        AssertUserError(Run("benchmark", "--config", bomb, "--output", output), bomb, "aliases");
        AssertUserError(Run("hpo", "--model", "padim", "--data", data, "--space", space, "--output", output), space, "aliases");

        AssertUserError(Run("train", "--data", data, "--config", deep, "--output", output), deep, "nested deeper than 32 levels");
        AssertUserError(Run("train", "--data", data, "--set", "model.layers=" + new string('[', 20_000) + new string(']', 20_000),
            "--output", output),
            "--set model.layers", "nested deeper than 32 levels");
        AssertUserError(Run("hpo", "--model", "padim", "--data", data, "--space", deepSpace, "--output", output), deepSpace,
            "nested deeper");
        // A list value 100 deep used to reach System.Text.Json's depth limit (exit 1, "internal error").
        AssertUserError(Run("train", "--data", data, "--set", "model.layers=" + new string('[', 100) + new string(']', 100), "--output",
            output), "nested deeper");
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void TheLimitsCountExpandedAliasesExactlyAndLetOrdinaryAnchorsThrough()
    {
        // 7 levels of 4 aliases: about 29,000 values with the lists themselves, under the limit; 9 levels are 349,000.
        string Nested(int levels) => "a: [&a0 [x, x, x, x]" + string.Concat(Enumerable.Range(1, levels - 1)
            .Select(i => $", &a{i} [" + string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 4)) + "]")) + "]";
        YamlLimits.Check(Nested(7), "t");
        Assert.Throws<AnomalySharpException>(() => YamlLimits.Check(Nested(9), "t"));
        var tree = ConfigTree.FromYaml("base: &b {x: 1}\nother: *b\n", "t");
        Assert.Equal("1", tree.GetString("other.x"));
        YamlLimits.Check(string.Concat(Enumerable.Repeat("[", 31)) + string.Concat(Enumerable.Repeat("]", 31)), "t");
        var e = Assert.Throws<AnomalySharpException>(() => YamlLimits.Check("a: *nothing\n", "t"));
        Assert.Contains("names no anchor", e.Message);
    }

    [Fact]
    public void DevicesPipesAndLinksToThemAreRefusedBeforeTheyAreRead()
    {
        string dir = TestPaths.TempDir("devices");
        string data = TestPaths.SharedData("hazelnut_toy");
        string zeroOnnx = Path.Combine(dir, "zero.onnx"), zeroYaml = Path.Combine(dir, "zero.yaml"), fifo = Path.Combine(dir, "fifo.yaml");
        File.CreateSymbolicLink(zeroOnnx, "/dev/zero");
        File.CreateSymbolicLink(zeroYaml, "/dev/zero");
        using (var mk = Process.Start("mkfifo", new[] { fifo })!) mk.WaitForExit();
        Assert.Equal(BoundedFile.Kind.Special, BoundedFile.KindOf(fifo));
        Assert.Equal(BoundedFile.Kind.Special, BoundedFile.KindOf(zeroOnnx));
        Assert.Equal(BoundedFile.Kind.Regular, BoundedFile.KindOf(ExportedSynthetic.Onnx));
        string output = Path.Combine(dir, "out");

        AssertUserError(Run("train", "--data", data, "--config", "/dev/zero", "--output", output), "/dev/zero", "not a regular file");
        AssertUserError(Run("train", "--data", data, "--config", zeroYaml, "--output", output), zeroYaml, "not a regular file");
        AssertUserError(Run("train", "--data", data, "--config", fifo, "--output", output), fifo, "not a regular file");
        AssertUserError(Run("hpo", "--model", "padim", "--data", data, "--space", "/dev/zero", "--output", output), "--space",
            "not a regular file");
        AssertUserError(Run("benchmark", "--config", "/dev/zero", "--output", output), "not a regular file");
        AssertUserError(Run("predict", "--model-path", zeroOnnx, "--input", Path.Combine(data, "test", "good"), "--output", output),
            zeroOnnx, "not a regular file");
        AssertUserError(Run("serve", "--model", zeroOnnx, "--port", "0"), "not a regular file");
        AssertUserError(Run("worker", "--nats", "nats://127.0.0.1:1", "--model", zeroOnnx), "not a regular file");
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void AWatchedFolderSkipsDevicesAndPipesAndScoresTheImages()
    {
        string dir = TestPaths.TempDir("watch-devices");
        string incoming = Path.Combine(dir, "camera"), output = Path.Combine(dir, "out");
        Directory.CreateDirectory(incoming);
        File.CreateSymbolicLink(Path.Combine(incoming, "zero.png"), "/dev/zero");
        using (var mk = Process.Start("mkfifo", new[] { Path.Combine(incoming, "pipe.png") })!) mk.WaitForExit();
        using var watch = new CliProcess("predict", "--model-path", ExportedSynthetic.Onnx, "--watch", incoming, "--output", output);
        watch.WaitFor("skipped: " + Path.Combine(incoming, "pipe.png") + ": not a regular file", TimeSpan.FromSeconds(60));
        watch.WaitFor("skipped: " + Path.Combine(incoming, "zero.png") + ": not a regular file", TimeSpan.FromSeconds(10));
        var (_, good) = ExportedSynthetic.Images;
        File.Copy(good, Path.Combine(incoming, "frame.png"));
        watch.WaitFor("1 images", TimeSpan.FromSeconds(60));
        watch.Signal("TERM");
        watch.WaitForExit(TimeSpan.FromSeconds(30));
        Assert.Single(File.ReadAllLines(Path.Combine(output, "predictions.jsonl")));
    }

    [Fact]
    public void ModelLayersMustBeDistinctAndFew()
    {
        string data = TestPaths.SharedData("hazelnut_toy");
        string output = Path.Combine(TestPaths.TempDir("layers"), "out");
        AssertUserError(Run("train", "--data", data, "--set", "model.layers=[layer2, layer3, layer2]", "--output", output),
            "'layer2' is listed 2 times");
        AssertUserError(Run("train", "--data", data, "--set", "model.layers=[" + string.Join(",", Enumerable.Range(0,
            10_000).Select(i => $"l{i}")) + "]",
            "--output", output), "10000 layers, at most 16");
        AssertUserError(Run("train", "--data", data, "--set", "model.layers=[layer9]", "--output", output), "layer9");
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void TheSweepsSmallerFindsAreOneLineErrors()
    {
        string dir = TestPaths.TempDir("sweep-minor");
        string data = TestPaths.SharedData("hazelnut_toy");
        string output = Path.Combine(dir, "out");
        AssertUserError(Run("train", "--data", data, "--set", "model.covariance_epsilon=0", "--output", output),
            "model.covariance_epsilon", "out of range");
        AssertUserError(Run("hpo", "--model", "padim", "--data", data, "--space", Path.Combine(TestPaths.RepoRoot, "configs",
            "hpo-padim.yaml"),
            "--metric", "nonsense", "--output", output), "--metric 'nonsense'", "image_auroc");
        AssertUserError(Run("publish", "--nats", "nats://127.0.0.1:1", "--subject", "frames.l1.c1", "--rate", "1e-7", Path.Combine(data,
            "test", "good")), "--rate");
        Assert.False(Directory.Exists(output));

        // A model file whose format_version is a string or a fraction (its manifest checksum made to match).
        foreach (string version in new[] { "\"1\"", "1.5" })
        {
            string model = Path.Combine(dir, $"v{(version.Contains('.') ? "frac" : "text")}.anomalysharp");
            File.Copy(Path.Combine(ExportedSynthetic.ModelDir, "model.anomalysharp"), model);
            using (var zip = System.IO.Compression.ZipFile.Open(model, System.IO.Compression.ZipArchiveMode.Update))
            {
                System.Text.Json.Nodes.JsonNode manifest;
                using (var read = zip.GetEntry("manifest.json")!.Open()) manifest = System.Text.Json.Nodes.JsonNode.Parse(read)!;
                manifest["format_version"] = System.Text.Json.Nodes.JsonNode.Parse(version);
                byte[] bytes = System.Text.Encoding.UTF8.GetBytes(manifest.ToJsonString());
                zip.GetEntry("manifest.json")!.Delete();
                zip.GetEntry("manifest.sha256")!.Delete();
                using (var s1 = zip.CreateEntry("manifest.json").Open()) s1.Write(bytes);
                using (var s2 = new StreamWriter(zip.CreateEntry("manifest.sha256").Open()))
                    s2.Write(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)));
            }
            AssertUserError(Run("export", "--model-path", model, "--output", Path.Combine(dir, "x.onnx")), model,
                $"format version {version}");
        }

        // Damaged resume files name themselves.
        string grid = Path.Combine(dir, "grid");
        Directory.CreateDirectory(Path.Combine(grid, "cells", "synthetic-texture__padim__s42"));
        File.WriteAllText(Path.Combine(grid, "cells", "synthetic-texture__padim__s42", "cell.json"), "{\"image_auroc\": 0.9");
        AssertUserError(Run("benchmark", "--models", "padim", "--data", "synthetic", "--output", grid), "cell.json", "damaged");
        string search = Path.Combine(dir, "search");
        Directory.CreateDirectory(search);
        File.WriteAllText(Path.Combine(search, "trials.jsonl"), "{\"trial\": 0\n");
        AssertUserError(Run("hpo", "--model", "padim", "--data", data, "--space", Path.Combine(TestPaths.RepoRoot, "configs",
            "hpo-padim.yaml"), "--output", search),
            "trials.jsonl", "damaged");

        // --overwrite of a folder that is not a Triton repository names what it looked for.
        string precious = Path.Combine(dir, "precious");
        Directory.CreateDirectory(precious);
        File.WriteAllText(Path.Combine(precious, "notes.txt"), "mine");
        AssertUserError(Run("export", "--model-path", ExportedSynthetic.ModelDir, "--format", "triton", "--output", precious,
            "--overwrite"), "config.pbtxt");
        Assert.Equal("mine", File.ReadAllText(Path.Combine(precious, "notes.txt")));
    }
}
