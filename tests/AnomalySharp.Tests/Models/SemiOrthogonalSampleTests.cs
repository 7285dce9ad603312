using System.Text.Json.Nodes;
using AnomalySharp.Engine;
using AnomalySharp.Models;
using AnomalySharp.Samples.CustomModel;
using static AnomalySharp.Tests.Cli.CliRunner;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Models;

/// <summary>The plugin sample (samples/CustomModel): a model that lives outside the library and works through one registration.</summary>
public class SemiOrthogonalSampleTests
{
    static string PluginPath => Path.Combine(AppContext.BaseDirectory, "AnomalySharp.Samples.CustomModel.dll");

    [Fact]
    public void ThePluginModelDetectsAndLocatesSyntheticDefects()
    {
        foreach (var d in new SemiOrthogonalPlugin().Models) ModelRegistry.Register(d);
        var results = new AnomalyEngine().Train(PadimTests.SmallConfig("semi_orthogonal"), PadimTests.SmallSynthetic(),
            Path.Combine(TestPaths.TempDir("semi-orthogonal"), "out"), false).ToJson();
        Assert.True((double)results["image_auroc"]! >= 0.95, results.ToJsonString());
        Assert.True((double)results["pixel_auroc"]! >= 0.9, results.ToJsonString());
    }

    [Fact]
    public void ItsProjectionIsSemiOrthogonalAndSeeded()
    {
        foreach (var d in new SemiOrthogonalPlugin().Models) ModelRegistry.Register(d);
        Tensor Projection(int seed)
        {
            var config = PadimTests.SmallConfig("semi_orthogonal");
            config.Set($"seed={seed}");
            using var model = new SemiOrthogonalModel(config);
            return model.Projection.clone();
        }
        using var w = Projection(1);
        using var again = Projection(1);
        using var other = Projection(2);
        Assert.Equal(new long[] { 448, 100 }, w.shape);
        using var gram = w.t().mm(w);
        Assert.True(gram.allclose(eye(100), rtol: 0, atol: 1e-5), "WᵀW is not the identity");
        Assert.Equal(w.data<float>().ToArray(), again.data<float>().ToArray()); // the same seed, the same projection, bit for bit
        Assert.False(w.allclose(other), "another seed gave the same projection");
    }

    [Fact]
    public void TheCommandLineTrainsAndReloadsItThroughThePlugin()
    {
        var ds = PadimTests.SmallSynthetic();
        string dir = TestPaths.TempDir("cli-semi-orthogonal");
        string run = Path.Combine(dir, "run");
        var train = Run("train", "--model", "semi_orthogonal", "--plugin", PluginPath, "--data", ds.Root, "--output", run,
            "--set", "data.image_size=128", "--set", "visualization.save_images=false");
        Assert.True(train.ExitCode == 0, train.Stderr);
        Assert.Equal("semi_orthogonal", (string)JsonNode.Parse(File.ReadAllText(Path.Combine(run, "results.json")))!["model"]!);
        var test = Run("test", "--plugin", PluginPath, "--model-path", run, "--output", Path.Combine(dir, "t"));
        Assert.True(test.ExitCode == 0, test.Stderr);
        AssertUserError(Run("test", "--model-path", run, "--output", Path.Combine(dir, "t2")), "unknown model 'semi_orthogonal'",
            "--plugin");

        AssertUserError(Run("train", "--plugin", Path.Combine(dir, "missing.dll")), "missing.dll");
    }
}
