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
        var results = new AnomalyEngine().Train(config, PadimTests.SmallSynthetic(), Path.Combine(TestPaths.TempDir("dfm"), "out"),
            false).ToJson();
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
    public void Int8ExportOfDfmShipsOnlyWhatKeepsItsScores()
    {
        // Whether DFM's feature-reconstruction residual survives 8-bit backbone features depends on the CPU's INT8
        // kernels: where ONNX Runtime's u8 x s8 products saturate (AVX2 without VNNI) INT8 called every normal
        // calibration image anomalous; with VNNI it moves the scores by thousandths. Either way the export must tell
        // the truth: refuse (exit 2, nothing written), or write a file whose recorded drift is what its scores show.
        string dir = TestPaths.TempDir("dfm-int8");
        string run = Path.Combine(dir, "run"), int8 = Path.Combine(dir, "dfm_int8.onnx"), f32 = Path.Combine(dir, "dfm.onnx");
        var data = TestPaths.SharedData("hazelnut_toy");
        var train = Run("train", "--model", "dfm", "--plugin", PluginPath, "--data", data, "--output", run,
            "--set", "data.image_size=128", "--set", "visualization.save_images=false");
        Assert.True(train.ExitCode == 0, train.Stderr);
        var export = Run("export", "--plugin", PluginPath, "--model-path", run, "--output", int8, "--int8");
        if (export.ExitCode != 0)
        {
            AssertUserError(export, "does not keep its accuracy in INT8", "float32");
            Assert.False(File.Exists(int8));
            Assert.Single(Directory.GetFileSystemEntries(dir)); // the run folder only
            return;
        }
        Assert.True(Run("export", "--plugin", PluginPath, "--model-path", run, "--output", f32).ExitCode == 0);
        // The calibration images are the run's training images; score them with both files, as a deployment would.
        var images = Directory.GetFiles(Path.Combine(data, "train", "good")).Order().ToList();
        using var quantized = new AnomalySharp.Runtime.OnnxAnomalyDetector(int8);
        using var full = new AnomalySharp.Runtime.OnnxAnomalyDetector(f32);
        var q = quantized.PredictFiles(images).Select(p => (double)p.Score).ToArray();
        var f = full.PredictFiles(images).Select(p => (double)p.Score).ToArray();
        double mean = q.Zip(f, (a, b) => Math.Abs(a - b)).Average();
        int flips = q.Zip(f).Count(p => p.First >= 0.5 && p.Second < 0.5);
        Assert.True(mean <= AnomalySharp.Export.OnnxQuantizer.MaxMeanScoreDrift
            && flips <= AnomalySharp.Export.OnnxQuantizer.MaxFlippedShare * images.Count,
            $"INT8 DFM was written although it moves the normal scores by {mean} on average and flips {flips} of {images.Count}");
        string recorded = quantized.Metadata["anomalysharp.int8_score_drift"];
        double recordedMean = double.Parse(recorded.Split(' ')[1].TrimEnd(','), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(Math.Abs(recordedMean - mean) <= 1e-3, $"recorded drift '{recorded}', measured mean {mean}");
        Assert.EndsWith($"over {images.Count} calibration images", recorded);
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
