using AnomalySharp.Configuration;
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
/// data.tiling (issue #17): tiles cover the image, stitching puts every pixel back where it came from with overlaps
/// blended and no seams, and one tile the size of the image is exactly the untiled model, on real magnetic_tile images.
/// </summary>
public class TilingTests
{
    static ImageBatch RealImages(int size, int count) =>
        new Batcher(size, count).Enumerate(RealDataModels.Probe(RealDataModels.Data).Take(count).ToList(), false).Single();

    [Theory]
    [InlineData(256, 96, 64, new[] { 0, 64, 128, 160 })]
    [InlineData(256, 128, 128, new[] { 0, 128 })]
    [InlineData(200, 64, 64, new[] { 0, 64, 128, 136 })]
    [InlineData(1024, 256, 192, new[] { 0, 192, 384, 576, 768 })]
    [InlineData(256, 256, 256, new[] { 0 })]
    public void TilesStepByTheStrideAndTheLastOneMeetsTheFarEdge(int image, int tile, int stride, int[] offsets)
    {
        var grid = new TileGrid(image, tile, stride);
        Assert.Equal(offsets, grid.RowOffsets);
        Assert.Equal(offsets, grid.ColumnOffsets);
        Assert.Equal(offsets.Length * offsets.Length, grid.Count);
        Assert.Equal(offsets.Zip(offsets.Skip(1)).Any(p => p.Second - p.First < tile), grid.Overlaps);
    }

    [Fact]
    public void ARectangleIsTiledAlongEachAxisOnItsOwn()
    {
        var grid = new TileGrid(128, 320, 64, 48);
        Assert.Equal(new[] { 0, 48, 64 }, grid.RowOffsets);
        Assert.Equal(new[] { 0, 48, 96, 144, 192, 240, 256 }, grid.ColumnOffsets);
        Assert.Equal(21, grid.Count);
        Assert.Equal((64, 256), grid.Positions.Last());
        var config = ModelRegistry.Defaults("padim");
        config.Set("data.image_size=[128, 320]");
        config.Set("data.tiling.tile_size=64");
        config.Set("data.tiling.stride=48");
        Assert.Equal((128, 320), (EngineOptions.From(config).ImageHeight, EngineOptions.From(config).ImageWidth));
        Assert.Equal(21, TileGrid.From(config)!.Count);
    }

    [Theory]
    [InlineData("data.image_size=[128, 256]", "needs data.tiling")]       // a rectangle without tiles
    [InlineData("data.image_size=[128, 256, 3]", "[height, width]")]
    [InlineData("data.image_size=[128, 8000]", "out of range")]
    public void ABadWorkingSizeIsRefusedNamingItsKey(string set, string text)
    {
        var config = ModelRegistry.Defaults("padim");
        config.Set(set);
        var e = Assert.Throws<AnomalySharpException>(() => EngineOptions.From(config));
        Assert.Contains("'data.image_size'", e.Message);
        Assert.Contains(text, e.Message);
    }

    [Theory]
    [InlineData("data.tiling.tile_size=512", "data.tiling.tile_size")]   // larger than the image
    [InlineData("data.tiling.tile_size=16", "data.tiling.tile_size")]
    [InlineData("data.tiling.stride=200", "data.tiling.stride")]          // gaps between tiles
    [InlineData("data.tiling.stride=1", "data.tiling.stride")]            // 16,641 tiles
    public void BadTilingIsRefusedNamingItsKeyBeforeAnyWork(string set, string key)
    {
        var config = ModelRegistry.Defaults("padim");
        config.Set("data.tiling.tile_size=128");
        config.Set(set);
        var e = Assert.Throws<AnomalySharpException>(() => EngineOptions.From(config));
        Assert.Contains($"'{key}'", e.Message);
    }

    [Fact]
    public void ATileSizeTheModelCannotTakeIsNamedAsTheTileSize()
    {
        var config = ModelRegistry.Defaults("fastflow");
        config.Set("data.image_size=512");
        config.Set("data.tiling.tile_size=100"); // fastflow needs a multiple of 16
        var e = Assert.Throws<AnomalySharpException>(() => TiledModels.Create(config));
        Assert.StartsWith("config key 'data.tiling.tile_size': fastflow needs a multiple of", e.Message);
    }

    [Fact]
    public void ConfigurationsWithoutTilingStayUntiled()
    {
        var config = ModelRegistry.Defaults("padim");
        Assert.Null(TileGrid.From(config));
        using (var plain = TiledModels.Create(config)) Assert.IsNotType<TiledModel>(plain);
        // The model layer creates untiled models only, and says where a tiled one comes from instead of ignoring the key.
        config.Set("data.image_size=128");
        config.Set("data.tiling.tile_size=64");
        Assert.Contains("TiledModels.Create", Assert.Throws<AnomalySharpException>(() => ModelRegistry.Create(config)).Message);
        using (var tiled = TiledModels.Create(config)) Assert.IsAssignableFrom<TiledModel>(tiled);
        var old = ConfigTree.FromJson(config.ToJson().Replace("\"tiling\"", "\"unused\"")); // a model file from before tiling
        Assert.Null(TileGrid.From(old));
    }

    [Theory]
    [InlineData(200, 96, 64)]   // overlapping, last tile pulled back to the edge
    [InlineData(200, 64, 64)]   // side by side, but the last tile overlaps its neighbour
    [InlineData(192, 64, 64)]   // side by side exactly
    [InlineData(160, 160, 160)] // one tile
    [InlineData(96, 64, 48, 224)] // a rectangle, 96 x 224
    public void StitchingPutsEveryPixelBackWhereItCameFrom(int height, int tile, int stride, int width = 0)
    {
        if (width == 0) width = height;
        using var batch = new Batcher(height, width, 4).Enumerate(RealDataModels.Probe(RealDataModels.Data).Take(4).ToList(),
            false).Single();
        var grid = new TileGrid(height, width, tile, stride);
        using var tiled = TiledModel.Wrap(new ChannelMeanModel(), grid);
        using var graph = new InferenceGraph(tiled, height, width, 1);
        var (maps, scores) = graph.Run(batch.Images);
        using var _ = maps; using var __ = scores;
        using var expected = batch.Images.mean(new long[] { 1 }, keepdim: true);
        double worst = (maps - expected).abs().max().item<float>();
        if (grid.Overlaps) Assert.True(worst < 1e-6, $"largest error {worst}");
        else Assert.Equal(0.0, worst);
        // The score is the stitched map's maximum: the image's brightest pixel.
        var brightest = expected.amax(new long[] { 1, 2, 3 }).data<float>().ToArray();
        Assert.All(brightest.Zip(scores.data<float>().ToArray()), p => Assert.Equal(p.First, p.Second, grid.Overlaps ? 1e-6 : 0));
    }

    [Fact]
    public void CuttingTheTrainingImagesGivesEachTileOnceImageByImage()
    {
        using var batch = RealImages(160, 2);
        var grid = new TileGrid(160, 64, 48);   // offsets 0, 48, 96: 9 tiles
        using var tiles = TiledFitData.Cut(batch, grid);
        Assert.Equal(new long[] { 18, 3, 64, 64 }, tiles.Images.shape);
        Assert.Equal(18, tiles.Samples.Count);
        var positions = grid.Positions.ToArray();
        for (int i = 0; i < 2; i++)
            for (int k = 0; k < 9; k++)
            {
                Assert.Same(batch.Samples[i], tiles.Samples[i * 9 + k]);
                using var expected = batch.Images[i].narrow(1, positions[k].Y, 64).narrow(2, positions[k].X, 64);
                Assert.True(tiles.Images[i * 9 + k].eq(expected).all().item<bool>(), $"image {i} tile {k}");
            }
    }

    [Theory]
    [InlineData("padim")]
    [InlineData("patchcore", "model.coreset_ratio=0.05")]
    public void OneTileAsLargeAsTheImageIsExactlyTheUntiledModel(string name, params string[] sets)
    {
        const int size = 128;
        var data = RealDataModels.Data;
        var train = data.Train.Take(20).ToList();
        var plain = ModelRegistry.Defaults(name);
        plain.Set($"data.image_size={size}");
        foreach (string s in sets) plain.Set(s);
        var one = plain.Clone();
        one.Set($"data.tiling.tile_size={size}");
        using var untiled = TiledModels.Create(plain);
        using var tiled = TiledModels.Create(one);
        Assert.IsAssignableFrom<TiledModel>(tiled);
        var batcher = new Batcher(size, 8);
        untiled.Fit(new FitData(train.Count, () => batcher.Enumerate(train, false)), NullProgress.Instance);
        tiled.Fit(new FitData(train.Count, () => batcher.Enumerate(train, false)), NullProgress.Instance);
        var a = untiled.GetState(); var b = tiled.GetState();
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var key in a.Keys) Assert.True(a[key].eq(b[key]).all().item<bool>(), $"{name}: fitted '{key}' differs");

        var probe = RealDataModels.Probe(data);
        using var batch = new Batcher(size, probe.Count).Enumerate(probe, false).Single();
        using var g1 = new InferenceGraph(untiled, size, 1);
        using var g2 = new InferenceGraph(tiled, size, 1);
        var (m1, s1) = g1.Run(batch.Images);
        var (m2, s2) = g2.Run(batch.Images);
        using var _ = m1; using var __ = s1; using var ___ = m2; using var ____ = s2;
        Assert.Equal(s1.data<float>().ToArray(), s2.data<float>().ToArray());
        Assert.True(m1.eq(m2).all().item<bool>(), $"{name}: maps differ by up to {(m1 - m2).abs().max().item<float>()}");
    }

    [Fact]
    public void AConstantImageHasNoSeamsWhereTilesMeet()
    {
        // PaDiM fitted on 128-pixel tiles of real images; a uniform grey 320-pixel image cut into 3 x 3 overlapping tiles.
        var config = ModelRegistry.Defaults("padim");
        config.Set("data.image_size=320");
        config.Set("data.tiling.tile_size=128");
        config.Set("data.tiling.stride=96");
        var train = RealDataModels.Data.Train.Take(10).ToList();
        using var model = (TiledModel)TiledModels.Create(config);
        var batcher = new Batcher(320, 5);
        model.Fit(new FitData(train.Count, () => batcher.Enumerate(train, false)), NullProgress.Instance);
        using var grey = full(new long[] { 1, 3, 320, 320 }, 0.5f);
        using var graph = new InferenceGraph(model, 320, 1);
        var (maps, scores) = graph.Run(grey);
        using var _ = maps; using var __ = scores;
        using var inner = new InferenceGraph(model.Inner, 128, 1);
        using var tile = full(new long[] { 1, 3, 128, 128 }, 0.5f);
        var (tileMap, tileScore) = inner.Run(tile);
        using var ___ = tileMap; using var ____ = tileScore;

        // Steps between neighbouring pixels: where a tile begins or ends (columns 96, 128, 192, 224) the stitched map
        // must not jump more than the tile's own map does anywhere inside it. (Plain averaging of the overlaps fails
        // this: a step of 3.55 against 0.85 inside a tile, measured; the tent blend gives 0.44.)
        static Tensor Steps(Tensor m) => (m.narrow(3, 1, m.shape[3] - 1) - m.narrow(3, 0, m.shape[3] - 1)).abs();
        using var steps = Steps(maps);
        double withinTile = Steps(tileMap).max().item<float>();
        var edges = new[] { 95, 127, 191, 223 };
        double atEdges = edges.Max(x => steps.narrow(3, x, 1).narrow(2, 32, 256).max().item<float>());
        Console.WriteLine($"seams: largest step at tile edges {atEdges}, inside a tile {withinTile}, map "
            + $"{maps.min().item<float>()}..{maps.max().item<float>()}");
        Assert.True(atEdges <= withinTile,
            $"the largest step where tiles meet, {atEdges}, exceeds the largest inside a tile's own map, {withinTile}");
    }

    [Fact]
    public void ARectangularWorkingSizeTrainsExportsAndDeploysWhole()
    {
        // hazelnut_toy (512 x 522 images) at 64 x 128: two 64-pixel tiles side by side; train, export, then the runtime.
        var config = ModelRegistry.Defaults("padim");
        config.Set("data.image_size=[64, 128]");
        config.Set("data.tiling.tile_size=64");
        config.Set("visualization.save_images=false");
        var data = new MvtecDataset(TestPaths.SharedData("hazelnut_toy"));
        string dir = TestPaths.TempDir("tiling-rectangle");
        string run = Path.Combine(dir, "run"), onnx = Path.Combine(dir, "model.onnx");
        new AnomalyEngine().Train(config, data, run, false);
        var results = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(run, "results.json")))!;
        Assert.Equal("[64,128]", results["image_size"]!.ToJsonString());
        Assert.True((double)results["pixel_auroc"]! > 0.5);
        new ModelExporter().Export(run, ExportFormat.Onnx, onnx, int8: false, calibration: null, overwrite: false);

        using var detector = new AnomalySharp.Runtime.OnnxAnomalyDetector(onnx);
        Assert.Equal((64, 128), (detector.ImageHeight, detector.ImageWidth));
        Assert.Equal("64x128", detector.Metadata["anomalysharp.image_size"]);
        Assert.Equal("2", detector.Metadata["anomalysharp.tiles"]);
        var sample = data.Test.First(s => s.IsAnomalous);
        var p = detector.PredictFiles(new[] { sample.ImagePath }, masks: true, overlays: true).Single();
        Assert.Equal((64, 128), (p.MapHeight, p.MapWidth));
        Assert.Equal(64 * 128, p.Map.Length);
        using var overlay = AnomalySharp.Runtime.ImageDecoder.Decode(p.OverlayPng!, "overlay");
        Assert.Equal((128, 64), (overlay.Width, overlay.Height));
        using var mask = AnomalySharp.Runtime.ImageDecoder.Decode(p.MaskPng!, "mask");
        Assert.Equal((p.Width, p.Height), (mask.Width, mask.Height));

        // The runtime scores the test images as `train`'s evaluation did (the same graph, preprocessing and normalization).
        var curves = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(run, "curves.json")))!;
        var evaluated = curves["scores"]!.AsArray().Select(v => (double)v!).ToArray();
        var deployed = detector.PredictFiles(data.Test.Select(s => s.ImagePath).ToList()).Select(x => (double)x.Score).ToArray();
        Assert.Equal(evaluated.Length, deployed.Length);
        Assert.True(evaluated.Zip(deployed, (a, b) => Math.Abs(a - b)).Max() <= 1e-6);
    }
}
