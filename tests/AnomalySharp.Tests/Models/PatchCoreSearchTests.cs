using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Engine;
using AnomalySharp.Inference;
using AnomalySharp.Metrics;
using AnomalySharp.Models;
using AnomalySharp.Models.PatchCore;
using AnomalySharp.Packaging;
using AnomalySharp.Tests.Export;
using AnomalySharp.Tiling;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Models;

/// <summary>
/// PatchCore's inverted-file search against the exact search on real magnetic_tile images: the same bank, scored
/// through the inference graph both ways, must give image AUROC within 0.003 and pixel AUROC within 0.005 (issue #14).
/// </summary>
public class PatchCoreSearchTests
{
    const int Size = 256;

    static (PatchCoreModel Exact, PatchCoreModel Ivf) FitBoth(int trainImages, params string[] sets)
    {
        var data = RealDataModels.Data;
        var exactConfig = ModelRegistry.Defaults("patchcore");
        exactConfig.Set($"data.image_size={Size}");
        exactConfig.Set("model.search=exact");
        var exact = (PatchCoreModel)TiledModels.Create(exactConfig);
        var batcher = new Batcher(Size, 16);
        var train = data.Train.Take(trainImages).ToList();
        exact.Fit(new FitData(train.Count, () => batcher.Enumerate(train, false)), NullProgress.Instance);
        var ivfConfig = ModelRegistry.Defaults("patchcore");
        ivfConfig.Set($"data.image_size={Size}");
        foreach (string s in sets) ivfConfig.Set(s);
        var ivf = (PatchCoreModel)TiledModels.Create(ivfConfig);
        ivf.LoadState(new Dictionary<string, Tensor> { ["memory_bank"] = exact.GetState()["memory_bank"].clone() });
        return (exact, ivf);
    }

    static (Tensor Maps, Tensor Scores) Score(IAnomalyModel model, IReadOnlyList<AnomalySample> samples, out Tensor masks,
        out Tensor labels)
    {
        using var graph = new InferenceGraph(model, Size, 0);
        var maps = new List<Tensor>(); var scores = new List<Tensor>(); var maskList = new List<Tensor>();
        foreach (var batch in new Batcher(Size, 16).Enumerate(samples, true))
            using (batch)
            {
                var (m, s) = graph.Run(batch.Images);
                maps.Add(m); scores.Add(s); maskList.Add(batch.Masks!.clone());
            }
        masks = cat(maskList); labels = tensor(samples.Select(s => s.IsAnomalous ? 1L : 0L).ToArray());
        foreach (var t in maskList) t.Dispose();
        return (cat(maps), cat(scores));
    }

    [Fact]
    public void TheInvertedFileSearchScoresLikeTheExactSearchOnRealImages()
    {
        // 100 training images make a 10,240-row bank (64 lists of 160); every third test image, 194 of them.
        var (exact, ivf) = FitBoth(100);
        using var _ = exact; using var __ = ivf;
        var samples = RealDataModels.Data.Test.Where((_, i) => i % 3 == 0).ToList();
        var (exactMaps, exactScores) = Score(exact, samples, out var masks, out var labels);
        var (ivfMaps, ivfScores) = Score(ivf, samples, out var masks2, out var labels2);
        using var a = exactMaps; using var b = exactScores; using var c = ivfMaps; using var d = ivfScores;
        using var m = masks; using var l = labels; masks2.Dispose(); labels2.Dispose();

        double imageExact = Auroc.Compute(exactScores, labels), imageIvf = Auroc.Compute(ivfScores, labels);
        double pixelExact = Auroc.Compute(exactMaps.flatten(), masks.flatten()), pixelIvf = Auroc.Compute(ivfMaps.flatten(),
            masks.flatten());
        Assert.True(Math.Abs(imageExact - imageIvf) <= 0.003, $"image AUROC exact {imageExact:0.00000}, inverted file {imageIvf:0.00000}");
        Assert.True(Math.Abs(pixelExact - pixelIvf) <= 0.005, $"pixel AUROC exact {pixelExact:0.00000}, inverted file {pixelIvf:0.00000}");
        Assert.True(imageExact > 0.6, $"image AUROC {imageExact}: the bank does not separate the classes, the comparison says nothing");

        // An approximate search never finds a closer row than the exact one: maps are never below the exact maps
        // (up to float rounding), and on average within a few per cent of them.
        using var diff = ivfMaps - exactMaps;
        Assert.True(diff.min().item<float>() > -1e-3f * exactMaps.max().item<float>(), "the inverted-file map fell below the exact map");
        double relative = diff.mean().item<float>() / exactMaps.mean().item<float>();
        Assert.True(relative < 0.03, $"maps differ by {relative:P2} on average");

        using var probe = new Batcher(Size, 16).Enumerate(samples.Take(16).ToList(), false).Single();
        var comparison = ivf.CompareSearch(probe.Images, 0);
        Assert.True(comparison.Recall > 0.8, $"recall of the exact nearest bank row {comparison.Recall:0.000}");
        Assert.All(comparison.RelativeErrors(), e => Assert.True(e > -1e-3, $"an approximate distance below the exact one ({e})"));
    }

    [Fact]
    public void TheIndexIsSavedAndAModelWithoutSearchKeysKeepsTheExactSearch()
    {
        var ds = PadimTests.SmallSynthetic();
        string dir = TestPaths.TempDir("patchcore-ivf-save");
        var config = PadimTests.SmallConfig("patchcore");
        config.Set("model.search_lists=8");
        config.Set("model.search_probes=2");
        new AnomalyEngine().Train(config, ds, Path.Combine(dir, "a"), false);
        using var a = TrainedModel.Load(Path.Combine(dir, "a"));
        var state = a.Model.GetState();
        Assert.Equal(8, state["search_centroids"].shape[0]);
        using var batch = new Batcher(128, 8).Enumerate(ds.Test.Take(8).ToList(), false).Single();
        var (mapsA, scoresA) = RealDataModels.Normalized(a, batch.Images);

        // The same file loaded twice scores identically; the bank was stored list by list, so its offsets cover it.
        using var b = TrainedModel.Load(Path.Combine(dir, "a", "model.anomalysharp"));
        var (mapsB, scoresB) = RealDataModels.Normalized(b, batch.Images);
        Assert.Equal(scoresA, scoresB);
        Assert.Equal(mapsA, mapsB);
        Assert.Equal(state["memory_bank"].shape[0], state["search_offsets"][-1].item<long>());

        // A configuration from before 0.3 (no search keys) means the exact search it was evaluated with.
        var old = PadimTests.SmallConfig("patchcore");
        var tree = System.Text.Json.Nodes.JsonNode.Parse(old.ToJson())!.AsObject();
        foreach (string key in new[] { "search", "search_lists", "search_probes", "search_dims", "search_rerank",
            "search_refine_patches", "search_refine_probes" }) tree["model"]!.AsObject().Remove(key);
        using var exact = (PatchCoreModel)TiledModels.Create(AnomalySharp.Configuration.ConfigTree.FromJson(tree.ToJsonString()));
        exact.LoadState(new Dictionary<string, Tensor> { ["memory_bank"] = state["memory_bank"].clone() });
        Assert.False(exact.GetState().ContainsKey("search_centroids"));
        Assert.Equal(1, exact.OnnxMaxBatch);
    }

    [Fact]
    public void ADamagedIndexOrMoreProbesThanListsIsRefused()
    {
        var config = PadimTests.SmallConfig("patchcore");
        config.Set("model.search_lists=4");
        config.Set("model.search_probes=5");
        var e = Assert.Throws<AnomalySharpException>(() => TiledModels.Create(config));
        Assert.Contains("model.search_probes", e.Message);

        config.Set("model.search_probes=2");
        using var model = (PatchCoreModel)TiledModels.Create(config);
        using var bank = randn(200, 384);
        model.LoadState(new Dictionary<string, Tensor> { ["memory_bank"] = bank.clone() });
        var state = model.GetState().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        state["search_support"][3, 1] = tensor(200L);
        using var loaded = (PatchCoreModel)TiledModels.Create(config);
        var damaged = Assert.Throws<InvalidOperationException>(() => loaded.LoadState(state));
        Assert.Contains("outside the bank", damaged.Message);
    }
}
