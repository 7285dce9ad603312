using AnomalySharp.Training;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Training;

public class AugmentationTests
{
    [Fact]
    public void OffByDefaultAndEachChangeDoesWhatItSays()
    {
        using var guard = AnomalySharp.Diagnostics.NativeCallGuard.Enter();
        using var scope = NewDisposeScope();
        Assert.False(Augmentation.None.Enabled);
        Assert.False(TrainingOptions.FromConfig(AnomalySharp.Models.ModelRegistry.Defaults("stfpm")).Augment.Enabled);

        var images = rand(new long[] { 8, 3, 16, 16 }, generator: new Generator(1));
        var flipped = new Augmentation(true, false, 0, 0).Apply(images, new Generator(2));
        for (int i = 0; i < 8; i++)
        {
            bool same = flipped[i].equal(images[i]).all().item<bool>();
            bool mirrored = flipped[i].equal(images[i].flip(2)).all().item<bool>();
            Assert.True(same ^ mirrored, $"image {i} is neither itself nor its mirror");
        }
        Assert.False(flipped.equal(images).all().item<bool>(), "with 8 images some are flipped");

        // Same generator seed, same draws; a different seed, different draws.
        var rotate = new Augmentation(false, false, 10, 0.2);
        var r1 = rotate.Apply(images, new Generator(5));
        var r2 = rotate.Apply(images, new Generator(5));
        var r3 = rotate.Apply(images, new Generator(6));
        Assert.True(r1.equal(r2).all().item<bool>());
        Assert.False(r1.equal(r3).all().item<bool>());
        Assert.True(r1.min().item<float>() >= 0 && r1.max().item<float>() <= 1);

        // A zero rotation is the identity (up to interpolation rounding).
        var still = new Augmentation(false, false, 1e-9, 0).Apply(images, new Generator(7));
        Assert.True((still - images).abs().max().item<float>() < 1e-5);
    }
}
