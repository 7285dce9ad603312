using System.Text.Json.Nodes;
using AnomalySharp.Engine;
using AnomalySharp.Models;
using AnomalySharp.Tests.Models;
using AnomalySharp.Tuning;

namespace AnomalySharp.Tests.Tuning;

public class SearchTests
{
    static SearchSpace Space(string yaml) => SearchSpace.Parse(yaml, "space.yaml", ModelRegistry.Defaults("padim"));

    [Fact]
    public void SpacesAreParsedAndMistakesNamed()
    {
        var space = Space("model.n_features: {int: [10, 100]}\nmodel.covariance_epsilon: {log_float: [0.001, 1]}\nmodel.blur_sigma: "
            + "{float: [1, 8]}\nmodel.layers: {choice: [[layer1, layer2], [layer1, layer2, layer3]]}\n");
        Assert.Equal(4, space.Parameters.Count);
        var layers = space.Parameters[3];
        Assert.Equal("[layer1, layer2]", layers.Format(0));
        Assert.Equal("[layer1, layer2, layer3]", layers.Format(1.7));
        Assert.Equal("100", space.Parameters[0].Format(140));
        Assert.Equal("0.01", space.Parameters[1].Format(Math.Log(0.01)));
        Assert.Contains("unknown config key 'model.n_featurs'",
            Assert.Throws<AnomalySharpException>(() => Space("model.n_featurs: {int: [1, 2]}")).Message);
        Assert.Contains("unknown kind 'normal'",
            Assert.Throws<AnomalySharpException>(() => Space("model.blur_sigma: {normal: [1, 2]}")).Message);
        Assert.Contains("positive low", Assert.Throws<AnomalySharpException>(() => Space("model.blur_sigma: {log_float: [0, 2]}")).Message);
        Assert.Contains("low must be below high",
            Assert.Throws<AnomalySharpException>(() => Space("model.blur_sigma: {float: [3, 2]}")).Message);
    }

    /// <summary>A smooth objective with a known optimum: x = 0.7, y = 0.01 (log scale), choice "b".</summary>
    static double Objective(IReadOnlyDictionary<string, double> p) =>
        -Math.Pow(p["model.blur_sigma"] - 5.5, 2) / 10 - Math.Pow(p["model.covariance_epsilon"] - Math.Log(0.01),
            2) / 10 - (p["model.layers"] == 1 ? 0 : 0.5);

    static double BestAfter(ISampler sampler, int trials, int seed)
    {
        var space = Space("model.blur_sigma: {float: [1, 8]}\nmodel.covariance_epsilon: {log_float: [0.0001, 1]}\nmodel.layers: "
            + "{choice: [a, b, c]}\n");
        var history = new List<Observation>();
        for (int t = 0; t < trials; t++)
        {
            var point = sampler.Suggest(space, history, new Random(seed * 1000 + t));
            history.Add(new Observation(point, Objective(point)));
        }
        return history.Max(o => o.Value);
    }

    [Fact]
    public void TpeFindsBetterPointsThanRandomSearchAndIsDeterministic()
    {
        double tpe = Enumerable.Range(1, 8).Average(s => BestAfter(new TpeSampler(), 25, s));
        double random = Enumerable.Range(1, 8).Average(s => BestAfter(new RandomSampler(), 25, s));
        Assert.True(tpe > random, $"tpe {tpe} vs random {random}");
        Assert.Equal(BestAfter(new TpeSampler(), 25, 3), BestAfter(new TpeSampler(), 25, 3));
    }

    [Fact]
    public void SearchRunsOnAValidationSplitWritesBestYamlAndResumes()
    {
        string dir = TestPaths.TempDir("hpo");
        var ds = PadimTests.SmallSynthetic();
        int runs = 0;
        JsonObject Run(TrialRequest r)
        {
            runs++;
            var config = PadimTests.SmallConfig();
            config.Set($"seed={r.Seed}");
            foreach (string s in r.Sets) config.Set(s);
            return new AnomalyEngine().Train(config, new AnomalySharp.Data.MvtecDataset(r.Data), r.Output, overwrite: true).ToJson();
        }
        var settings = new SearchSettings
        {
            Model = "padim", Data = ds.Root, Space = Space("model.n_features: {int: [10, 60]}\n"), Sampler = new TpeSampler(), Trials = 3,
        };
        var summary = new HyperparameterSearch(settings, Run).Run(dir);
        Assert.Equal(3 + 2, runs); // three trials, then defaults and best once on the final part
        Assert.Equal(3, File.ReadAllLines(Path.Combine(dir, "trials.jsonl")).Length);
        Assert.True((double)summary["best_validation"]! >= (double)summary["default_validation"]!);

        // Validation and final parts are disjoint and together are the test set.
        var validation = new AnomalySharp.Data.MvtecDataset(Path.Combine(dir,
            "validation-data")).Test.Select(s => Path.GetFileName(s.ImagePath) + s.DefectType).ToHashSet();
        var final = new AnomalySharp.Data.MvtecDataset(Path.Combine(dir,
            "final-data")).Test.Select(s => Path.GetFileName(s.ImagePath) + s.DefectType).ToList();
        Assert.DoesNotContain(final, validation.Contains);
        Assert.Equal(ds.Test.Count, validation.Count + final.Count);

        // best.yaml is a config train --config accepts.
        var tree = ModelRegistry.Defaults("padim");
        tree.Merge(AnomalySharp.Configuration.ConfigTree.FromFile(Path.Combine(dir, "best.yaml")), "best.yaml");
        Assert.Equal("padim", tree.GetString("model.name"));
        var best = summary["best_sets"]!.AsArray().Select(n => (string)n!).ToList();
        if (best.Count > 0) Assert.Equal(best[0].Split('=')[1], tree.GetInt("model.n_features").ToString());

        // Resume: one more trial runs only that trial (final runs are kept).
        runs = 0;
        new HyperparameterSearch(settings with { Trials = 4 }, Run).Run(dir);
        Assert.InRange(runs, 1, 2); // the new trial, and the best's final run if it changed
        Assert.Equal(4, File.ReadAllLines(Path.Combine(dir, "trials.jsonl")).Length);
        Assert.Contains("different search",
            Assert.Throws<AnomalySharpException>(() => new HyperparameterSearch(settings with { Metric = "aupro" }, Run).Run(dir)).Message);
    }
}
