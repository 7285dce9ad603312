using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Inference;
using AnomalySharp.Models;
using AnomalySharp.Packaging;
using AnomalySharp.PostProcessing;
using AnomalySharp.Tiling;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Export;

/// <summary>Small models fitted on real magnetic_tile images (30 training images, 256 px), for export tests.</summary>
internal static class RealDataModels
{
    public const int Size = 256;

    public static MvtecDataset Data => new(TestPaths.SharedData("magnetic_tile"));

    /// <summary>Eight test images: four defective, four good.</summary>
    public static List<AnomalySample> Probe(MvtecDataset data) =>
        data.Test.Where(s => s.IsAnomalous).Take(4).Concat(data.Test.Where(s => !s.IsAnomalous).Take(4)).ToList();

    /// <summary>Normalized maps and scores of images through the library's inference path (the graph, then normalization).</summary>
    public static (float[] Maps, float[] Scores) Normalized(TrainedModel trained, Tensor images)
    {
        using var graph = new InferenceGraph(trained.Model, trained.ImageShape.Height, trained.ImageShape.Width, 0);
        var (maps, scores) = graph.Run(images);
        using (maps) using (scores)
            return (MinMaxNormalizer.NormalizeMaps(maps.data<float>().ToArray(), trained.Stats),
                MinMaxNormalizer.NormalizeScores(scores.data<float>().ToArray(), trained.Stats));
    }

    /// <summary>Fits <paramref name="name"/> on 30 training images; thresholds are the medians of its raw outputs on the probe
    /// images.</summary>
    public static TrainedModel Fit(string name, params string[] sets)
    {
        var config = ModelRegistry.Defaults(name);
        config.Set($"data.image_size={Size}");
        foreach (string s in sets) config.Set(s);
        var data = Data;
        var model = TiledModels.Create(config);
        var batcher = new Batcher(Size, 8);
        var train = data.Train.Take(30).ToList();
        model.Fit(new FitData(train.Count, () => batcher.Enumerate(train, false)), NullProgress.Instance);
        using var batch = batcher.Enumerate(Probe(data), false).Single();
        using var graph = new InferenceGraph(model, Size, 0);
        var (maps, scoreTensor) = graph.Run(batch.Images);
        using var _ = maps; using var __ = scoreTensor;
        var scores = scoreTensor.data<float>().ToArray();
        using var sorted = maps.flatten().sort().Values;
        float pixelMedian = sorted[sorted.shape[0] / 2].item<float>();
        var ordered = scores.Order().ToArray();
        // Between two scores, so no probe image sits exactly on the threshold (its label would be a coin toss).
        var stats = new NormalizationStats((ordered[ordered.Length / 2 - 1] + ordered[ordered.Length / 2]) / 2, pixelMedian,
            scores.Min(), scores.Max(), maps.min().item<float>(), maps.max().item<float>());
        return new TrainedModel(model, config, stats, data.Root);
    }
}
