using System.Text.Json.Nodes;
using AnomalySharp.Data;
using AnomalySharp.Engine;
using AnomalySharp.Models;
using AnomalySharp.Runtime;

namespace AnomalySharp.Tests.Export;

/// <summary>
/// What `test` reports is what the deployed model does: for every model, `test`'s per-image scores on every seventh
/// magnetic_tile test image (84 images of every defect type and good ones, the 42 that calibrated the thresholds among
/// them) and the exported .onnx file's, run by the runtime as `predict` runs it, are the same. Every image takes the
/// same path; a seventh of them keeps the 14 rows within a few minutes.
/// </summary>
public class OneInferencePathTests
{
    /// <summary>magnetic_tile with its first <paramref name="train"/> training images and about <paramref name="test"/> test
    /// images, evenly spread over its test set (which is ordered by defect type).</summary>
    sealed class Subset(IAnomalyDataset inner, int train, int test) : IAnomalyDataset
    {
        public string Description => inner.Description;
        public string Root => inner.Root;
        public IReadOnlyList<AnomalySample> Train { get; } = inner.Train.Take(train).ToList();
        public IReadOnlyList<AnomalySample> Test { get; } = inner.Test.Where((_, i) => i % (inner.Test.Count / test) == 0).ToList();
        public bool HasMasks => inner.HasMasks;
    }

    /// <summary>Quicker settings for a model's row; a model not named here runs with its defaults.</summary>
    static readonly Dictionary<string, string[]> Quick = new()
    {
        ["patchcore"] = new[] { "model.coreset_ratio=0.05" },
    };

    /// <summary>
    /// One row per registered built-in model, from the registry (a new model gets its row by its Register; a trained
    /// one trains 2 epochs), then the plugin sample's model and the variants of tiling and of models' options.
    /// </summary>
    public static TheoryData<string, string[]> Rows()
    {
        var rows = new TheoryData<string, string[]>();
        foreach (string name in ModelRegistry.BuiltInNames)
            rows.Add(name, (Quick.GetValueOrDefault(name) ?? Array.Empty<string>())
                .Concat(ModelRegistry.Trains(name) ? new[] { "training.max_epochs=2" } : Array.Empty<string>()).ToArray());
        rows.Add("dfm", new[] { "model.score_type=nll" });
        rows.Add("semi_orthogonal", Array.Empty<string>());
        rows.Add("reverse_distillation", new[] { "training.max_epochs=2", "model.layers=[layer2, layer3, layer4]" });
        rows.Add("padim", new[] { "data.image_size=128", "data.tiling.tile_size=64", "data.tiling.stride=48" });
        rows.Add("patchcore", new[] { "model.coreset_ratio=0.02", "data.image_size=128", "data.tiling.tile_size=64" });
        rows.Add("stfpm", new[] { "training.max_epochs=2", "data.image_size=128", "data.tiling.tile_size=64", "data.tiling.stride=32" });
        rows.Add("padim", new[] { "data.image_size=128", "data.tiling.tile_size=64", "data.tiling.ensemble=true" });
        rows.Add("patchcore", new[] { "model.coreset_ratio=0.05", "data.image_size=128", "data.tiling.tile_size=64",
            "data.tiling.ensemble=true" });
        rows.Add("reverse_distillation", new[] { "training.max_epochs=2", "data.image_size=[64, 128]", "data.tiling.tile_size=64",
            "data.tiling.ensemble=true" });
        return rows;
    }

    [Theory]
    [MemberData(nameof(Rows))]
    public void TestScoresEqualTheExportedModelsOnEveryTestImage(string name, string[] sets)
    {
        foreach (var d in new AnomalySharp.Samples.CustomModel.SemiOrthogonalPlugin().Models) ModelRegistry.Register(d);
        var full = RealDataModels.Data;
        var scored = new Subset(full, 0, full.Test.Count / 7);
        var config = ModelRegistry.Defaults(name);
        // 64 px keeps the rows quick; the path is the same at any size.
        config.Set("data.image_size=64");
        config.Set("visualization.save_images=false");
        foreach (string s in sets) config.Set(s);
        string dir = TestPaths.TempDir("one-path-" + name);
        string run = Path.Combine(dir, "run"), tested = Path.Combine(dir, "test"), onnx = Path.Combine(dir, "model.onnx");
        var engine = new AnomalyEngine();
        engine.Train(config, new Subset(full, 30, 40), run, false);
        engine.Test(run, scored, tested, false);
        new ModelExporter().Export(run, ExportFormat.Onnx, onnx, int8: false, calibration: null, overwrite: false);

        var curves = JsonNode.Parse(File.ReadAllText(Path.Combine(tested, "curves.json")))!;
        var testScores = curves["scores"]!.AsArray().Select(v => (double)v!).ToArray();
        Assert.Equal(scored.Test.Count, testScores.Length);
        Assert.Equal(6, scored.Test.Select(s => Path.GetFileName(Path.GetDirectoryName(s.ImagePath))).Distinct().Count());
        using var detector = new OnnxAnomalyDetector(onnx);
        var deployed = scored.Test.Chunk(16).SelectMany(chunk => detector.PredictFiles(chunk.Select(s => s.ImagePath).ToList())).ToArray();
        double worst = testScores.Zip(deployed, (t, p) => Math.Abs(t - p.Score)).Max();
        Assert.True(worst <= 1e-6, $"{name}: largest |test score - exported score| over {testScores.Length} images is {worst}");
        Assert.Equal(testScores.Select(s => s >= 0.5), deployed.Select(p => p.IsAnomalous));
        // The label is the score against the normalized threshold, image by image (a 2-epoch network may flag every
        // image of this slice, so both labels need not occur).
        Assert.All(deployed, p => Assert.Equal(0.5, p.Threshold, 6));
        Assert.All(deployed, p => Assert.Equal(p.Score >= p.Threshold, p.IsAnomalous));
        Assert.Contains(deployed, p => p.IsAnomalous);
    }
}
