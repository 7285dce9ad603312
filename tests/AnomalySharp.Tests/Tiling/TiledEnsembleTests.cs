using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Engine;
using AnomalySharp.Inference;
using AnomalySharp.Models;
using AnomalySharp.Tests.Export;
using AnomalySharp.Tiling;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Tiling;

/// <summary>
/// data.tiling.ensemble (issue #17): one model per tile position, each fitted on its own position's tiles only and
/// standardized by its own training maps, on real magnetic_tile images; and the configurations it refuses.
/// </summary>
public class TiledEnsembleTests
{
    [Fact]
    public void EachPositionIsAModelOfItsOwnTilesStandardizedByItsOwnTrainingMaps()
    {
        // 128-px images in four 64-px tiles side by side; the reference fits plain 64-px PaDiMs on crops cut here.
        var data = RealDataModels.Data;
        var train = data.Train.Take(20).ToList();
        var config = ModelRegistry.Defaults("padim");
        config.Set("data.image_size=128");
        config.Set("data.tiling.tile_size=64");
        config.Set("data.tiling.ensemble=true");
        using var model = TiledModels.Create(config);
        var ensemble = Assert.IsType<TiledEnsembleModel>(model);
        Assert.Equal(4, ensemble.Members.Count);
        var batcher = new Batcher(128, 8);
        ensemble.Fit(new FitData(train.Count, () => batcher.Enumerate(train, false)), NullProgress.Instance);

        var plainConfig = ModelRegistry.Defaults("padim");
        plainConfig.Set("data.image_size=64");
        var probe = RealDataModels.Probe(data);
        using var probeBatch = new Batcher(128, probe.Count).Enumerate(probe, false).Single();
        using var ensembleGraph = new InferenceGraph(ensemble, 128, 1);
        var (maps, _) = ensembleGraph.Run(probeBatch.Images);
        using var __ = maps;
        foreach (var (k, y, x) in new[] { (0, 0, 0), (3, 64, 64) })
        {
            IEnumerable<ImageBatch> Crops(IEnumerable<ImageBatch> batches)
            {
                foreach (var b in batches)
                    using (b) yield return new ImageBatch(b.Samples, b.Images[.., .., y..(y + 64), x..(x + 64)].contiguous(), null,
                        b.OriginalSizes);
            }
            using var plain = TiledModels.Create(plainConfig);
            plain.Fit(new FitData(train.Count, () => Crops(batcher.Enumerate(train, false))), NullProgress.Instance);
            var a = plain.GetState(); var b = ensemble.Members[k].GetState();
            foreach (var key in a.Keys) Assert.True(a[key].eq(b[key]).all().item<bool>(),
                $"position {k}: fitted '{key}' differs from a model of its tiles");

            // Its standardization: the mean and spread of the plain model's maps over the same training tiles.
            using var plainGraph = new InferenceGraph(plain, 64, 1);
            var trainMaps = Crops(batcher.Enumerate(train,
                false)).Select(t => { using (t) return plainGraph.Run(t.Images).Maps.to_type(ScalarType.Float64); }).ToArray();
            using var all = cat(trainMaps);
            var (mean, scale) = ensemble.Standardization[k];
            Assert.Equal(all.mean().item<double>(), mean, 4);
            Assert.Equal(1 / all.std(unbiased: false).item<double>(), scale, 3);

            // In the stitched map, the position's pixels are its model's map, standardized (tiles side by side: no blending).
            var (plainMaps, _) = plainGraph.Run(probeBatch.Images[.., .., y..(y + 64), x..(x + 64)].contiguous());
            using var expected = (plainMaps - mean) * scale;
            using var got = maps[.., .., y..(y + 64), x..(x + 64)];
            double worst = (got - expected).abs().max().item<float>();
            Assert.True(worst < 1e-4, $"position {k}: stitched map differs from its standardized model map by {worst}");
        }
    }

    [Theory]
    [InlineData("padim", "data.tiling.tile_size=0", "needs tiles")]
    public void AnEnsembleItCannotBuildIsRefusedNamingItsKey(string name, string tiling, string text)
    {
        var config = ModelRegistry.Defaults(name);
        config.Set("data.image_size=128");
        config.Set(tiling);
        config.Set("data.tiling.ensemble=true");
        var e = Assert.Throws<AnomalySharpException>(() => { EngineOptions.From(config); TiledModels.Create(config).Dispose(); });
        Assert.Contains("'data.tiling.ensemble'", e.Message);
        Assert.Contains(text, e.Message);
    }

    [Fact]
    public void AnEnsembleOverOnnxsTwoGigabytesIsRefusedAfterItsFirstModel()
    {
        // PaDiM at 256-px tiles keeps 83 MB of packed covariances per position: 49 positions (stride 128) of a 1024-px
        // image pass 2 GB.
        var config = ModelRegistry.Defaults("padim");
        config.Set("data.image_size=1024");
        config.Set("data.tiling.tile_size=256");
        config.Set("data.tiling.stride=128");
        config.Set("data.tiling.ensemble=true");
        using var model = TiledModels.Create(config);
        var train = RealDataModels.Data.Train.Take(2).ToList();
        var batcher = new Batcher(1024, 2);
        var e = Assert.Throws<AnomalySharpException>(() => model.Fit(new FitData(train.Count, () => batcher.Enumerate(train, false)),
            NullProgress.Instance));
        Assert.Contains("'data.tiling.ensemble'", e.Message);
        Assert.Contains("2 GB", e.Message);
    }
}
