using AnomalySharp.Inference;
using AnomalySharp.Models;
using AnomalySharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Models;

/// <summary>CFA's own checks (its training on synthetic defects is in <see cref="TrainedModelsTests"/>, its resumption in
/// TrainingDeterminismTests).</summary>
public class CfaTests
{
    static NetworkModel Create(int imageSize, params string[] sets)
    {
        var config = TrainedModelsTests.Small("cfa", imageSize, 1);
        foreach (var set in sets) config.Set(set);
        return (NetworkModel)ModelRegistry.Create(config);
    }

    static nn.Module<Tensor, Tensor> Descriptor(NetworkModel model) => (nn.Module<Tensor, Tensor>)model.Network;

    /// <summary>Random non-negative patch features [n,448,h,w] (as after a ReLU), from a seed.</summary>
    static Tensor Patches(Generator generator, long n, long h, long w) => rand(new[] { n, 448, h, w }, generator: generator);

    [Fact]
    public void AnUnknownOrOutOfRangeKeyIsAnErrorNamingIt()
    {
        var cases = new[]
        {
            ("model.num_nearest_neighbors=0", "model.num_nearest_neighbors"), ("model.radius=-1", "model.radius"),
            ("model.num_hard_negative_features=65", "model.num_hard_negative_features"), ("model.blur_sigma=0", "model.blur_sigma"),
            ("model.nosuch=1", "model.nosuch"),
        };
        foreach (var (set, named) in cases)
            Assert.Contains(named, Assert.Throws<AnomalySharpException>(() => Create(64, set).Dispose()).Message);
        // 32 px: layer1's grid is 8x8, 64 memory centres; 3 nearest and 62 hard negatives do not fit.
        Assert.Contains("exceed the memory bank's 64 centres", Assert.Throws<AnomalySharpException>(() =>
            Create(32, "model.num_hard_negative_features=62").Dispose()).Message);
        // 1024 px: a 256x256 grid, 65536 positions, each compared with as many centres.
        Assert.Contains("cfa compares every position", Assert.Throws<AnomalySharpException>(() => Create(1024).Dispose()).Message);
    }

    [Fact]
    public void TheMemoryBankIsTheUntrainedDescriptorsMeanOutputAndTheSavedStateKeepsIt()
    {
        using var generator = new Generator(7);
        using var model = Create(64);
        var init = (IInitializedFromData)model;
        Assert.True(init.NeedsInitialization);
        using var a = Patches(generator, 3, 16, 16);
        using var b = Patches(generator, 2, 16, 16);
        init.Initialize(new[] { new[] { a }, new[] { b } });
        Assert.False(init.NeedsInitialization);

        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            var expected = cat(new[] { Descriptor(model).forward(a), Descriptor(model).forward(b) }).mean(new long[] { 0 }).flatten(1);
            var memory = model.GetState()["memory"];
            Assert.Equal(new long[] { 448, 256 }, memory.shape);
            Assert.True(memory.allclose(expected, rtol: 1e-5, atol: 1e-6));
        }

        // A model loaded from that state has its memory bank: a resumed or fine-tuned run does not rebuild it.
        using var loaded = Create(64);
        loaded.LoadState(model.GetState().ToDictionary(kv => kv.Key, kv => kv.Value.clone())); // (LoadState frees what it is given)
        Assert.False(((IInitializedFromData)loaded).NeedsInitialization);
        Assert.Throws<InvalidOperationException>(() =>
        {
            using var fresh = Create(64);
            using var t = Patches(generator, 1, 16, 16);
            fresh.Loss(null, new[] { t }).Dispose();
        });
    }

    /// <summary>The loss finds each position's K+J nearest centres without gradients and differentiates only those; it and its
    /// gradient equal the textbook form, which differentiates the full distance matrix after its top-k. In float64: random
    /// features in 448 dimensions are nearly equidistant, and float32 rounding can swap the 6th and 7th nearest centre.</summary>
    [Fact]
    public void TheLossAndItsGradientEqualTheFullDistanceMatrixs()
    {
        using var generator = new Generator(3);
        using var patches = Patches(generator, 2, 16, 16).to(float64);
        using var bank = Patches(generator, 1, 16, 16).to(float64);
        // The radius is set between the 3rd and 4th nearest distances so that both terms act.
        using var probe = Create(64);
        probe.Network.to(float64);
        double r2;
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            ((IInitializedFromData)probe).Initialize(new[] { new[] { bank } });
            var d = Full(probe, patches).topk(6, dim: -1, largest: false).values;
            r2 = 0.5 * (d.select(2, 2).median().item<double>() + d.select(2, 3).median().item<double>());
        }
        using var model = Create(64, $"model.radius={Math.Sqrt(r2)}");
        model.Network.to(float64);
        ((IInitializedFromData)model).Initialize(new[] { new[] { bank } });
        var weight = model.Network.parameters().First(p => p.dim() == 2);

        using var loss = model.Loss(null, new[] { patches });
        loss.backward();
        using var gradient = weight.grad!.clone();
        weight.grad!.zero_();

        using var scope2 = NewDisposeScope();
        var top = Full(model, patches).topk(6, dim: -1, largest: false).values;
        using var r2s = r2.ToScalar();
        using var margin = 0.1.ToScalar();
        using var thousand = 1000.0.ToScalar();
        var attract = nn.functional.relu(top.narrow(2, 0, 3).sub(r2s)).mean();
        var repel = nn.functional.relu(top.narrow(2, 3, 3).neg().add(r2s).sub(margin)).mean();
        var textbook = attract.add(repel).mul(thousand);
        textbook.backward();
        Assert.True(attract.item<double>() > 0 && repel.item<double>() > 0, "both terms act");
        Assert.Equal(textbook.item<double>(), loss.item<double>(), 1e-9 * textbook.item<double>());
        double scale = weight.grad!.abs().max().item<double>();
        Assert.True(scale > 0);
        double worst = (gradient - weight.grad!).abs().max().item<double>();
        Assert.True(worst < 1e-9 * scale, $"largest gradient difference {worst}, largest gradient {scale}, ratio of sums "
            + $"{gradient.sum().item<double>() / weight.grad!.sum().item<double>()}");
    }

    /// <summary>Squared distances [N,P,P] of every position's descriptor output to every memory centre, with gradients.</summary>
    static Tensor Full(NetworkModel model, Tensor patches)
    {
        var t = Descriptor(model).forward(patches).flatten(2).transpose(1, 2);   // [N,P,C]
        var memory = model.GetState()["memory"];                                  // [C,P] (the module's own buffer)
        using var two = 2.0.ToScalar();
        return t.square().sum(-1, keepdim: true).add(memory.square().sum(dim: 0)).sub(t.matmul(memory).mul(two));
    }

    /// <summary>The exported graph's map is, per position, the nearest distance weighted by softmin over the K nearest,
    /// upsampled; at 160 px (a 40x40 grid, 1600 positions) the search runs in two blocks of positions.</summary>
    [Fact]
    public void TheExportedMapIsTheSoftminWeightedNearestDistance()
    {
        using var generator = new Generator(5);
        using var model = Create(160, "model.blur_sigma=0.01"); // a one-pixel blur: none
        using var images = rand(new long[] { 2, 3, 160, 160 }, generator: generator);
        using (var scope = NewDisposeScope())
            ((IInitializedFromData)model).Initialize(new[]
                { model.FrozenFeatures(rand(new long[] { 3, 3, 160, 160 }, generator: generator)) });
        using var graph = new InferenceGraph(model, 160, 1);
        var (maps, scores) = graph.Run(images);
        using (maps)
        using (scores)
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            var d = Full(model, model.FrozenFeatures(images)[0]).clamp_min(0).sqrt().topk(3, dim: -1, largest: false).values;
            var grid = nn.functional.softmin(d, -1).narrow(2, 0, 1).mul(d.narrow(2, 0, 1)).view(2, 1, 40, 40);
            var expected = nn.functional.interpolate(grid, new long[] { 160, 160 }, mode: InterpolationMode.Bilinear, align_corners: false);
            double range = expected.max().item<float>();
            Assert.True((maps - expected).abs().max().item<float>() < 1e-4 * range);
            Assert.True((scores - expected.amax(new long[] { 1, 2, 3 })).abs().max().item<float>() < 1e-4 * range);
        }
    }
}
