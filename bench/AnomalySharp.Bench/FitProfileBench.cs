using System.Diagnostics;
using System.Globalization;
using AnomalySharp.Backbones;
using AnomalySharp.Configuration;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Models;
using static TorchSharp.torch;

namespace AnomalySharp.Bench;

/// <summary>
/// `--fit-profile`: where a PaDiM fit's time goes, each layer measured alone in one run: decoding and resizing the
/// training images, then that plus the backbone, then the whole fit (plus the embedding and the Gaussian update).
/// </summary>
internal static class FitProfileBench
{
    public static void Run(string data, int threads, int size, int images)
    {
        var config = ModelRegistry.Defaults("padim");
        config.Set($"runtime.threads={threads.ToString(CultureInfo.InvariantCulture)}");
        config.Set($"data.image_size={size.ToString(CultureInfo.InvariantCulture)}");
        RunSettings.ApplyThreads(config);
        var train = new MvtecDataset(data).Train.Take(images).ToList();
        var batcher = new Batcher(size, 16) { DecodeThreads = threads };
        Console.WriteLine(FormattableString.Invariant(
            $"PaDiM fit profile: {train.Count} images of {data} at {size} px, {threads} threads"));

        double decode = Time(() =>
        {
            foreach (var b in batcher.Enumerate(train, loadMasks: false)) b.Dispose();
        });
        Report("decode and resize", decode, train.Count);

        var backbone = BackboneFactory.Resnet18(BackboneEngine.Onnxruntime, threads);
        var layers = new[] { "layer1", "layer2", "layer3" };
        double features = Time(() =>
        {
            foreach (var b in batcher.Enumerate(train, loadMasks: false))
                using (b)
                using (NewDisposeScope())
                    _ = backbone.Extract(b.Images, layers);
        });
        Report("+ backbone (layers 1-3)", features, train.Count);

        double fit = 0;
        using (var model = ModelRegistry.Create(config))
        {
            var fitData = new FitData(train.Count, () => batcher.Enumerate(train, loadMasks: false));
            fit = Time(() => model.Fit(fitData, NullProgress.Instance));
        }
        Report("+ embedding, Gaussian update, finish (the whole fit)", fit, train.Count);

        // The Gaussian alone, on seeded embeddings of the fit's shape (100 features at 256 px: 4,096 positions).
        long positions = (size / 4) * (size / 4);
        var generator = new TorchSharp.torch.Generator(42);
        var batches = Enumerable.Range(0, (train.Count + 15) / 16).Select(_ => randn(16, 100, positions, generator: generator)).ToList();
        using var gaussian = new Components.MultivariateGaussian();
        double update = Time(() => { foreach (var b in batches) gaussian.Update(b); });
        double finish = Time(() => gaussian.Finish(0.01));
        Report("Gaussian update alone", update, batches.Count * 16);
        Report("Gaussian finish alone", finish, batches.Count * 16);
        foreach (var b in batches) b.Dispose();
    }

    static double Time(Action a)
    {
        var clock = Stopwatch.StartNew();
        a();
        return clock.Elapsed.TotalSeconds;
    }

    static void Report(string what, double seconds, int images) =>
        Console.WriteLine(FormattableString.Invariant($"  {what,-55} {seconds,7:0.00} s  {images / seconds,6:0.0} images/s"));
}
