using AnomalySharp.Models;

namespace AnomalySharp.Tests.Models;

/// <summary>FRE's own checks (its training on synthetic defects is in <see cref="TrainedModelsTests"/>).</summary>
public class FreTests
{
    [Fact]
    public void AnUnknownOrOutOfRangeKeyIsAnErrorNamingIt()
    {
        var cases = new[]
        {
            ("model.layers=[layer2, layer3]", "exactly one layer"), ("model.latent_dim=0", "model.latent_dim"),
            ("model.pooling_kernel_size=8", "model.pooling_kernel_size"), // layer3's grid at 64 px is 4x4
            ("model.nosuch=1", "model.nosuch"),
        };
        foreach (var (set, named) in cases)
        {
            var config = TrainedModelsTests.Small("fre", 64, 1);
            var e = Assert.Throws<AnomalySharpException>(() =>
            {
                config.Set(set); // an unknown key is refused here, a bad value when the model reads it
                ModelRegistry.Create(config).Dispose();
            });
            Assert.Contains(named, e.Message);
        }
        var huge = TrainedModelsTests.Small("fre", 512, 1);
        huge.Set("model.pooling_kernel_size=1");
        huge.Set("model.latent_dim=4096"); // 256 x 32 x 32 features: a billion weights
        Assert.Contains("over 256 M weights", Assert.Throws<AnomalySharpException>(() => ModelRegistry.Create(huge).Dispose()).Message);
    }

    [Fact]
    public void TheAutoencoderStartsFromTheSeedAndTiesItsDecoderToItsEncoder()
    {
        static Dictionary<string, float[]> Start(int seed)
        {
            var config = TrainedModelsTests.Small("fre", 64, 1);
            config.Set($"seed={seed}");
            using var model = ModelRegistry.Create(config);
            return model.GetState().ToDictionary(kv => kv.Key, kv => kv.Value.data<float>().ToArray());
        }
        var a = Start(1);
        // One weight matrix [latent, C·h·w] (layer3 at 64 px, pooled by 2: 256 x 2 x 2) and two biases, nothing else.
        Assert.Equal(new[] { "decoder_bias", "encoder_bias", "weight" }, a.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(220 * 1024, a["weight"].Length);
        Assert.Equal(1024, a["decoder_bias"].Length);
        Assert.Equal(a["weight"], Start(1)["weight"]);
        Assert.NotEqual(a["weight"], Start(2)["weight"]);
        double bound = Math.Sqrt(6.0 / (1024 + 220)); // Xavier-uniform
        Assert.All(a["weight"], w => Assert.InRange(w, -bound, bound));
        Assert.True(a["weight"].Max() > 0.9 * bound && a["weight"].Min() < -0.9 * bound);
    }
}
