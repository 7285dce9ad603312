using AnomalySharp.Configuration;
using AnomalySharp.Models;

namespace AnomalySharp.Tests.Configuration;

public class ConfigTreeTests
{
    [Fact]
    public void SetOverridesNestedKeysAndListsAreYaml()
    {
        var c = ModelRegistry.Defaults("padim");
        c.Set("model.n_features=50");
        c.Set("model.layers=[layer2, layer3]");
        Assert.Equal(50, c.GetInt("model.n_features"));
        Assert.Equal(new[] { "layer2", "layer3" }, c.GetStringList("model.layers"));
    }

    [Fact]
    public void UnknownKeysAreErrorsThatNameTheKey()
    {
        var c = ModelRegistry.Defaults("padim");
        var e = Assert.Throws<AnomalySharpException>(() => c.Set("model.n_featurs=5"));
        Assert.Contains("model.n_featurs", e.Message);
        var file = ConfigTree.FromYaml("model:\n  blur_sigmaa: 2\n", "my.yaml");
        var e2 = Assert.Throws<AnomalySharpException>(() => c.Merge(file, "my.yaml"));
        Assert.Contains("model.blur_sigmaa", e2.Message);
        Assert.Contains("my.yaml", e2.Message);
    }

    [Fact]
    public void BadValuesAreErrorsThatNameTheKey()
    {
        var c = ModelRegistry.Defaults("padim");
        c.Set("model.n_features=abc");
        var e = Assert.Throws<AnomalySharpException>(() => c.GetInt("model.n_features"));
        Assert.Contains("model.n_features", e.Message);
        Assert.Throws<AnomalySharpException>(() => ConfigTree.FromYaml("model: [unclosed", "x.yaml"));
    }

    [Fact]
    public void ShippedConfigFilesEqualTheBuiltInDefaults()
    {
        foreach (string name in ModelRegistry.BuiltInNames)
        {
            string file = Path.Combine(TestPaths.RepoRoot, "configs", name + ".yaml");
            Assert.True(File.Exists(file), file);
            var fromFile = ModelRegistry.Defaults(name);
            fromFile.Merge(ConfigTree.FromFile(file), file);
            Assert.Equal(ModelRegistry.Defaults(name).ToJson(), fromFile.ToJson());
            Assert.Equal(ModelRegistry.Defaults(name).ToJson(), ConfigTree.FromFile(file).ToJson());
        }
    }

    [Fact]
    public void YamlRoundTripKeepsEveryValue()
    {
        var c = ModelRegistry.Defaults("padim");
        c.Set("postprocessing.image_threshold=3.5");
        Assert.Equal(c.ToJson(), ConfigTree.FromYaml(c.ToYaml(), "round trip").ToJson());
    }
}
