using System.Text.Json.Nodes;
using static AnomalySharp.Tests.Cli.CliRunner;

namespace AnomalySharp.Tests.Reliability;

/// <summary>The smaller defects of the bad-input sweep, each through the real CLI.</summary>
public class BadInputCliTests
{
    static readonly string Progressive = Path.Combine(AppContext.BaseDirectory, "Reliability", "Files", "progressive.jpg");

    [Fact]
    public void ATruncatedProgressiveJpegIsAnErrorOrASkippedFileThatIsNotCounted()
    {
        string dir = TestPaths.TempDir("bad-train");
        string ds = InputCopy.Of(TestPaths.SharedData("hazelnut_toy"), Path.Combine(dir, "DS"));
        byte[] whole = File.ReadAllBytes(Progressive);
        string cut = Path.Combine(ds, "train", "good", "zz_cut.jpg");
        File.WriteAllBytes(cut, whole[..(whole.Length / 3)]);
        int trainImages = Directory.GetFiles(Path.Combine(ds, "train", "good")).Length;

        AssertUserError(Run("train", "--data", ds, "--output", Path.Combine(dir, "a"), "--set", "data.image_size=64"), cut, "truncated",
            "--skip-bad-images");
        var skipped = Run("train", "--data", ds, "--output", Path.Combine(dir, "b"), "--set", "data.image_size=64", "--skip-bad-images",
            "--set", "visualization.save_images=false");
        Assert.True(skipped.ExitCode == 0, skipped.Stderr);
        Assert.Contains($"skipped: {cut}: image is truncated", skipped.Stderr);
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "b", "results.json")))!;
        Assert.Equal(trainImages - 1, (int)results["n_train"]!);
        Assert.Single(results["skipped_images"]!.AsArray());

        // A trained model stopped by the bad image leaves neither output nor an empty training folder.
        AssertUserError(Run("train", "--model", "stfpm", "--data", ds, "--output", Path.Combine(dir, "c"), "--set",
            "data.image_size=64"), cut);
        Assert.False(Directory.Exists(Path.Combine(dir, "c")));
        Assert.False(Directory.Exists(Path.Combine(dir, "c.training")));
        Assert.Empty(Directory.GetDirectories(dir, ".*"));
    }

    [Fact]
    public void ADamagedExportIsRefusedAndAnUnwritableOutputIsAUserError()
    {
        string dir = TestPaths.TempDir("bad-onnx");
        string model = Path.Combine(dir, "m");
        Assert.Equal(0, Run("train", "--data", TestPaths.SharedData("hazelnut_toy"), "--output", model, "--set", "data.image_size=64",
            "--set", "visualization.save_images=false").ExitCode);
        string onnx = Path.Combine(dir, "m.onnx");
        Assert.Equal(0, Run("export", "--model-path", model, "--output", onnx).ExitCode);
        byte[] bytes = File.ReadAllBytes(onnx);
        var layout = AnomalySharp.Runtime.OnnxModelFile.Read(bytes, onnx);
        bytes[layout.GraphOffset + layout.GraphLength / 2] ^= 0x40; // one bit of a weight
        string damaged = Path.Combine(dir, "damaged.onnx");
        File.WriteAllBytes(damaged, bytes);
        string image = Directory.GetFiles(Path.Combine(TestPaths.SharedData("hazelnut_toy"), "test", "good"))[0];
        AssertUserError(Run("predict", "--model-path", damaged, "--input", image, "--output", Path.Combine(dir, "p")), damaged,
            "damaged", "checksum");
        AssertUserError(Run("serve", "--model", damaged, "--port", "0"), "checksum");

        string file = Path.Combine(dir, "a-file");
        File.WriteAllText(file, "x");
        AssertUserError(Run("predict", "--model-path", onnx, "--input", image, "--output", Path.Combine(file, "out")),
            "cannot write output", file);
        AssertUserError(Run("export", "--model-path", model, "--output", Path.Combine(file, "x.onnx")), "cannot write", file);
        AssertUserError(Run("train", "--seed", "forty-two"), "--seed: 'forty-two' is not an integer");
    }
}
