using AnomalySharp.Models;

namespace AnomalySharp.Tests.Architecture;

/// <summary>
/// A model is its folder, its configs/NAME.yaml and one Register: every place that lists the models follows the
/// registry (configs are checked by ConfigTreeTests, the parity rows come from it in OneInferencePathTests), and the
/// user's documents name every registered model, so a new one cannot ship undocumented.
/// </summary>
public class ModelRegistrationTests
{
    [Fact]
    public void EveryBuiltInModelHasItsRowInTheReadmeAndInChoosingAModel()
    {
        string readme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "README.md"));
        string choosing = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "choosing-a-model.md"));
        Assert.NotEmpty(ModelRegistry.BuiltInNames);
        foreach (string name in ModelRegistry.BuiltInNames)
        {
            Assert.True(readme.Contains($"| `{name}`", StringComparison.Ordinal), $"README.md's model table has no row for {name}");
            Assert.True(choosing.Contains($"`{name}`", StringComparison.Ordinal), $"docs/choosing-a-model.md does not name {name}");
        }
    }

    [Fact]
    public void TheTrainedModelsAreThoseWithATrainingSection()
    {
        Assert.Equal(new[] { "cfa", "fastflow", "fre", "reverse_distillation", "stfpm" }, ModelRegistry.TrainedNames);
        foreach (string name in ModelRegistry.TrainedNames)
            Assert.True(ModelRegistry.Defaults(name).Has("training.optimizer"), name);
    }
}
