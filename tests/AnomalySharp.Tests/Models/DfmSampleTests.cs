using System.Text.Json.Nodes;
using AnomalySharp.Components;
using AnomalySharp.Engine;
using AnomalySharp.Models;
using AnomalySharp.Samples.CustomModel;
using static AnomalySharp.Tests.Cli.CliRunner;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Models;

public class DfmSampleTests
{
    static string PluginPath => Path.Combine(AppContext.BaseDirectory, "AnomalySharp.Samples.CustomModel.dll");

    [Theory]
    [InlineData("fre")]
    [InlineData("nll")]
    public void DfmFromThePluginDetectsSyntheticDefects(string scoreType)
    {
        foreach (var d in new DfmPlugin().Models) ModelRegistry.Register(d);
        var config = PadimTests.SmallConfig("dfm");
        config.Set($"model.score_type={scoreType}");
        var results = new AnomalyEngine().Train(config, PadimTests.SmallSynthetic(), Path.Combine(TestPaths.TempDir("dfm"), "out"), false).ToJson();
        Assert.True((double)results["image_auroc"]! >= 0.9, results.ToJsonString());
    }

    [Fact]
    public void TheCommandLineTrainsAndReloadsDfmThroughThePlugin()
    {
        var ds = PadimTests.SmallSynthetic();
        string dir = TestPaths.TempDir("cli-dfm");
        string run = Path.Combine(dir, "run");
        var train = Run("train", "--model", "dfm", "--plugin", PluginPath, "--data", ds.Root, "--output", run,
            "--set", "data.image_size=128", "--set", "visualization.save_images=false");
        Assert.True(train.ExitCode == 0, train.Stderr);
        Assert.Equal("dfm", (string)JsonNode.Parse(File.ReadAllText(Path.Combine(run, "results.json")))!["model"]!);
        var test = Run("test", "--plugin", PluginPath, "--model-path", run, "--output", Path.Combine(dir, "t"));
        Assert.True(test.ExitCode == 0, test.Stderr);
        AssertUserError(Run("test", "--model-path", run, "--output", Path.Combine(dir, "t2")), "unknown model 'dfm'", "--plugin");

        AssertUserError(Run("train", "--plugin", Path.Combine(dir, "missing.dll")), "missing.dll");
    }

    [Fact]
    public void Int8ExportRefusesDfmWhoseScoresItWouldBreak()
    {
        // On real images DFM's feature-reconstruction residual does not survive 8-bit backbone features: quantized, it
        // calls every normal calibration image anomalous. The export says so, and writes nothing, instead of shipping it.
        string dir = TestPaths.TempDir("dfm-int8");
        string run = Path.Combine(dir, "run"), int8 = Path.Combine(dir, "dfm_int8.onnx");
        var train = Run("train", "--model", "dfm", "--plugin", PluginPath, "--data", TestPaths.SharedData("hazelnut_toy"), "--output", run,
            "--set", "data.image_size=128", "--set", "visualization.save_images=false");
        Assert.True(train.ExitCode == 0, train.Stderr);
        AssertUserError(Run("export", "--plugin", PluginPath, "--model-path", run, "--output", int8, "--int8"), "does not keep its accuracy in INT8", "float32");
        Assert.False(File.Exists(int8));
        Assert.Empty(Directory.GetFiles(dir));
    }

    [Fact]
    public void PcaKeepsTheRequestedVarianceAndReconstructsLowRankData()
    {
        var gen = new Generator(4);
        var basis = randn(new long[] { 3, 20 }, generator: gen);
        var rows = randn(new long[] { 100, 3 }, generator: gen).mm(basis) + 5;  // rank 3, offset
        using var exact = Pca.Fit(rows, 0.999);
        Assert.Equal(3, exact.Components.shape[0]);
        Assert.True((exact.InverseTransform(exact.Transform(rows)) - rows).abs().max().item<float>() < 1e-3f);
        using var two = Pca.Fit(rows, 2);
        Assert.Equal(2, two.Components.shape[0]);
        Assert.True(two.Components.mm(two.Components.t()).allclose(eye(2), rtol: 1e-4, atol: 1e-4));
    }
}
