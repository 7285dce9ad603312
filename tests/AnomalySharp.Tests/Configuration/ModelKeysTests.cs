using System.Globalization;
using AnomalySharp.Models;
using AnomalySharp.Training;

namespace AnomalySharp.Tests.Configuration;

/// <summary>
/// `anomalysharp models NAME` lists every key of a model with its default and range, learned from the model's own checks:
/// so every listed range is enforced, and a value just outside it is an error naming the key.
/// </summary>
public class ModelKeysTests
{
    [Fact]
    public void EveryKeyOfEveryModelIsListedWithItsDefault()
    {
        foreach (string name in ModelRegistry.BuiltInNames)
        {
            var defaults = ModelRegistry.Defaults(name);
            var keys = ModelKeys.Of(name);
            Assert.Equal(keys.Count, keys.Select(k => k.Key).Distinct().Count());
            Assert.All(keys, k => Assert.True(k.Key.StartsWith("model.", StringComparison.Ordinal)
                || k.Key.StartsWith("training.", StringComparison.Ordinal), k.Key));
            Assert.Equal(ModelRegistry.Trains(name), keys.Any(k => k.Key == "training.max_epochs"));
            foreach (var k in keys.Where(k => !k.Default.StartsWith('[')))
                Assert.Equal(defaults.GetStringOrNull(k.Key) ?? "null", k.Default);
            // Every key says what it accepts, but the model's name and the free-form checkpoint folder.
            Assert.All(keys.Where(k => k.Key is not ("model.name" or "training.checkpoint_dir")),
                k => Assert.True(k.Accepts.Length > 0, $"{name}: {k.Key} says nothing of what it accepts"));
        }
        Assert.Contains(ModelKeys.Of("fre"), k => k is { Key: "model.latent_dim", Default: "220", Accepts: "integer 1 .. 65536" });
        Assert.Contains(ModelKeys.Of("dfm"), k => k is { Key: "model.score_type", Accepts: "one of fre, nll" });
    }

    /// <summary>The model section through each model's constructor; the training section, which every trained model reads
    /// the same way, through <see cref="TrainingOptions.FromConfig"/>.</summary>
    [Fact]
    public void AValueJustOutsideAListedRangeIsAnErrorNamingTheKey()
    {
        int tried = 0;
        foreach (string name in ModelRegistry.BuiltInNames)
            foreach (var key in ModelKeys.Of(name))
            {
                bool model = key.Key.StartsWith("model.", StringComparison.Ordinal);
                // The input convention of a user's network is read only with backbone: onnx.
                if ((model ? false : name != "stfpm") || key.Key.StartsWith("model.backbone_", StringComparison.Ordinal)) continue;
                foreach (string bad in Outside(key.Accepts))
                {
                    var config = ModelRegistry.Defaults(name);
                    config.Set($"{key.Key}={bad}");
                    var e = Assert.Throws<AnomalySharpException>(() =>
                    {
                        if (model) ModelRegistry.Get(name).Create(config).Dispose();
                        else TrainingOptions.FromConfig(config);
                    });
                    Assert.Contains(key.Key, e.Message);
                    tried++;
                }
            }
        Assert.True(tried >= 40, $"only {tried} values tried");
    }

    [Fact]
    public void TheModelsCommandListsTheModelsAndOneModelsKeys()
    {
        var all = Cli.CliRunner.Run("models");
        Assert.True(all.ExitCode == 0, all.Stderr);
        Assert.Matches(@"(?m)^fre +trained +built in$", all.Stdout);
        Assert.Matches(@"(?m)^padim +fitted +built in$", all.Stdout);
        var fre = Cli.CliRunner.Run("models", "fre");
        Assert.True(fre.ExitCode == 0, fre.Stderr);
        Assert.Matches(@"(?m)^  model\.latent_dim +220 +integer 1 \.\. 65536$", fre.Stdout);
        Assert.Matches(@"(?m)^  training\.patience +30 +integer 0 \.\. 100000$", fre.Stdout);
        Assert.Contains("configs/fre.yaml", fre.Stdout);
        Cli.CliRunner.AssertUserError(Cli.CliRunner.Run("models", "nosuch"), "unknown model 'nosuch'");
    }

    static IEnumerable<string> Outside(string accepts)
    {
        var parts = accepts.Split(' ');
        if (accepts.StartsWith("one of ", StringComparison.Ordinal)) { yield return "nosuch"; yield break; }
        if (parts.Length != 4 || parts[2] != ".." || parts[0] is not ("integer" or "number")) yield break;
        double low = double.Parse(parts[1], CultureInfo.InvariantCulture), high = double.Parse(parts[3], CultureInfo.InvariantCulture);
        yield return (low - 1).ToString("R", CultureInfo.InvariantCulture);
        yield return (high + 1).ToString("R", CultureInfo.InvariantCulture);
    }
}
