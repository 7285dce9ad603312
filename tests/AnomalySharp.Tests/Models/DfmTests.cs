using AnomalySharp.Components;
using AnomalySharp.Engine;
using AnomalySharp.Models;
using static AnomalySharp.Tests.Cli.CliRunner;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Models;

/// <summary>DFM, built in (it began as the plugin sample, which is now <see cref="SemiOrthogonalSampleTests"/>).</summary>
public class DfmTests
{
    [Theory]
    [InlineData("fre")]
    [InlineData("nll")]
    public void DfmDetectsSyntheticDefects(string scoreType)
    {
        var config = PadimTests.SmallConfig("dfm");
        config.Set($"model.score_type={scoreType}");
        var results = new AnomalyEngine().Train(config, PadimTests.SmallSynthetic(), Path.Combine(TestPaths.TempDir("dfm"), "out"),
            false).ToJson();
        Assert.True((double)results["image_auroc"]! >= 0.9, results.ToJsonString());
    }

    [Fact]
    public void AnUnknownOrOutOfRangeKeyIsAnErrorNamingIt()
    {
        var cases = new[]
        {
            ("model.score_type=mean", "model.score_type"), ("model.pooling_kernel_size=0", "model.pooling_kernel_size"),
            ("model.layers=[layer2, layer3]", "exactly one layer"), ("model.pca_level=0", "model.pca_level"),
            ("model.nosuch=1", "model.nosuch"),
        };
        foreach (var (set, named) in cases)
        {
            var config = PadimTests.SmallConfig("dfm");
            var e = Assert.Throws<AnomalySharpException>(() =>
            {
                config.Set(set); // an unknown key is refused here, a bad value when the model reads it
                ModelRegistry.Create(config).Dispose();
            });
            Assert.Contains(named, e.Message);
        }
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
        var train = Run("train", "--model", "dfm", "--data", data, "--output", run,
            "--set", "data.image_size=128", "--set", "visualization.save_images=false");
        Assert.True(train.ExitCode == 0, train.Stderr);
        var export = Run("export", "--model-path", run, "--output", int8, "--int8");
        if (export.ExitCode != 0)
        {
            AssertUserError(export, "does not keep its accuracy in INT8", "float32");
            Assert.False(File.Exists(int8));
            Assert.Single(Directory.GetFileSystemEntries(dir)); // the run folder only
            return;
        }
        Assert.True(Run("export", "--model-path", run, "--output", f32).ExitCode == 0);
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
