using System.Text.Json.Nodes;
using AnomalySharp.Data;
using AnomalySharp.Engine;
using AnomalySharp.Models;

namespace AnomalySharp.Tests.Engine;

/// <summary>
/// An evaluation too large for runtime.evaluation_memory_mb keeps its maps, masks and pictures in temporary files and
/// sorts its pixels in runs merged from a file: what it reports and draws must be exactly what the in-memory
/// evaluation gives.
/// </summary>
public class SpilledEvaluationTests
{
    [Fact]
    public void AnEvaluationOnDiskReportsAndDrawsExactlyWhatOneInMemoryDoes()
    {
        // hazelnut_toy at 96 px: 23 test images, 212 K pixels; at 0 MB every store is a file and the pixel sort is 52 runs of 4,096.
        var data = new MvtecDataset(TestPaths.SharedData("hazelnut_toy"));
        string dir = TestPaths.TempDir("spilled-evaluation");
        var runs = new Dictionary<int, string>();
        foreach (int mb in new[] { 1024, 0 })
        {
            var config = ModelRegistry.Defaults("padim");
            config.Set("data.image_size=96");
            config.Set($"runtime.evaluation_memory_mb={mb}");
            runs[mb] = Path.Combine(dir, $"run{mb}");
            new AnomalyEngine().Train(config, data, runs[mb], false);
        }
        var zero = ModelRegistry.Defaults("padim");
        zero.Set("runtime.evaluation_memory_mb=0");
        Assert.Equal(4096, EngineOptions.From(zero).SortRunLength);

        var inMemory = JsonNode.Parse(File.ReadAllText(Path.Combine(runs[1024], "results.json")))!.AsObject();
        var onDisk = JsonNode.Parse(File.ReadAllText(Path.Combine(runs[0], "results.json")))!.AsObject();
        foreach (string key in new[] { "image_auroc", "image_f1_max", "pixel_auroc", "pixel_f1_max", "pixel_aupr", "aupro", "aupro_small",
                     "image_threshold", "pixel_threshold", "regions", "small_regions" })
            Assert.Equal(inMemory[key]?.ToJsonString(), onDisk[key]?.ToJsonString());
        Assert.True((double)inMemory["pixel_auroc"]! > 0.8, $"pixel AUROC {inMemory["pixel_auroc"]}");
        Assert.Equal(File.ReadAllText(Path.Combine(runs[1024], "curves.json")), File.ReadAllText(Path.Combine(runs[0], "curves.json")));
        var pictures = Directory.GetFiles(Path.Combine(runs[1024], "images")).Select(f => Path.GetFileName(f)).Order().ToList();
        Assert.Equal(data.Test.Count, pictures.Count);
        foreach (var name in pictures)
            Assert.Equal(File.ReadAllBytes(Path.Combine(runs[1024], "images", name)), File.ReadAllBytes(Path.Combine(runs[0], "images",
                name)));
    }
}
