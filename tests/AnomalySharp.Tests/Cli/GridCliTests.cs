using System.Text.Json.Nodes;

namespace AnomalySharp.Tests.Cli;

/// <summary>`benchmark` and `hpo` from the command line, on the built-in synthetic data (small images).</summary>
public class GridCliTests
{
    [Fact]
    public void BenchmarkRunsEachCellInItsOwnProcessSurvivesAFailureAndResumes()
    {
        string dir = TestPaths.TempDir("benchmark");
        // A dataset whose defective image has no mask: its cells fail, the others must still run.
        string broken = Path.Combine(dir, "broken");
        Directory.CreateDirectory(Path.Combine(broken, "train", "good"));
        Directory.CreateDirectory(Path.Combine(broken, "test", "good"));
        Directory.CreateDirectory(Path.Combine(broken, "test", "crack"));
        Directory.CreateDirectory(Path.Combine(broken, "ground_truth", "crack"));
        var ds = Models.PadimTests.SmallSynthetic();
        File.Copy(ds.Train[0].ImagePath, Path.Combine(broken, "train", "good", "a.png"));
        File.Copy(ds.Test[0].ImagePath, Path.Combine(broken, "test", "good", "b.png"));
        File.Copy(ds.Test.First(s => s.IsAnomalous).ImagePath, Path.Combine(broken, "test", "crack", "c.png"));
        string output = Path.Combine(dir, "grid");
        string[] args = { "benchmark", "--models", "padim,semi_orthogonal", "--data", $"synthetic,{broken}", "--seeds", "1,2", "--set",
            "data.image_size=64",
            "--output", output, "--plugin", Path.Combine(AppContext.BaseDirectory, "AnomalySharp.Samples.CustomModel.dll") };
        var r = CliRunner.Run(args);
        Assert.Equal(1, r.ExitCode); // some cells failed
        Assert.DoesNotContain("   at ", r.Stderr);
        string md = File.ReadAllText(Path.Combine(output, "benchmark.md"));
        Assert.Contains("| synthetic-texture |", md);
        Assert.Matches(@"\| synthetic-texture \| \d\.\d{3} ± \d\.\d{3} / \d\.\d{3} ± \d\.\d{3} / \d\.\d{3} ± \d\.\d{3} \| \d\.\d{3}", md);
        Assert.Contains("failed: broken / padim / seed 1", md);
        Assert.Contains("no mask", md);
        var csv = File.ReadAllLines(Path.Combine(output, "benchmark.csv"));
        Assert.Equal(1 + 8, csv.Length);
        string html = File.ReadAllText(Path.Combine(output, "benchmark.html"));
        Assert.Contains("<svg", html);
        Assert.Contains("Image ROC — synthetic-texture", html);
        Assert.Contains("Throughput vs accuracy", html);

        // The table agrees with a separate train run of the same cell.
        var cell = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "cells", "synthetic-texture__padim__s1", "cell.json")))!;
        var t = CliRunner.Run("train", "--model", "padim", "--seed", "1", "--set", "data.image_size=64", "--set",
            "visualization.save_images=false", "--output", Path.Combine(dir, "separate"));
        Assert.True(t.ExitCode == 0, t.Stderr);
        var separate = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "separate", "results.json")))!;
        Assert.Equal((double)separate["image_auroc"]!, (double)cell["image_auroc"]!);
        Assert.Equal((double)separate["pixel_auroc"]!, (double)cell["pixel_auroc"]!);
        Assert.True((double)cell["onnx_images_per_second"]! > 0 && (double)cell["evaluate_images_per_second"]! > 0);

        // Resume: finished cells are kept, not rerun.
        var again = CliRunner.Run(args);
        Assert.Equal(1, again.ExitCode);
        Assert.Equal(4, again.Stderr.Split('\n').Count(l => l.Contains("done before, kept")));
        CliRunner.AssertUserError(CliRunner.Run("benchmark", "--models", "padim,nosuch", "--data", "synthetic", "--output",
            Path.Combine(dir, "x")), "nosuch");
    }

    [Fact]
    public void CellsOfTwoDatasetsWithOneFolderNameAreKeptApartAndNeverMistakenForEachOther()
    {
        // Issue 40 F: --data x1/hz,x2/hz reported the first one's figures for both ("done before, kept").
        string dir = TestPaths.TempDir("benchmark-names");
        string x1 = Reliability.InputCopy.Of(TestPaths.SharedData("hazelnut_toy"), Path.Combine(dir, "x1", "hz"));
        string x2 = Reliability.InputCopy.Of(Models.PadimTests.SmallSynthetic().Root, Path.Combine(dir, "x2", "hz"));
        string output = Path.Combine(dir, "grid");
        var r = CliRunner.Run("benchmark", "--models", "padim", "--data", $"{x1},{x2}", "--set", "data.image_size=64", "--output", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.DoesNotContain("done before", r.Stderr);
        var cells = Directory.GetFiles(Path.Combine(output, "cells"), "cell.json", SearchOption.AllDirectories)
            .Select(f => JsonNode.Parse(File.ReadAllText(f))!).ToList();
        Assert.Equal(new[] { x1, x2 }, cells.Select(c => (string)c["data_spec"]!).Order(StringComparer.Ordinal));
        var first = cells.Single(c => (string)c["data_spec"]! == x1);
        var second = cells.Single(c => (string)c["data_spec"]! == x2);
        Assert.NotEqual((double)first["pixel_auroc"]!, (double)second["pixel_auroc"]!);
        Assert.Equal(1 + 2, File.ReadAllLines(Path.Combine(output, "benchmark.csv")).Length);

        // Other data under a name that a kept cell has: refused, not reported with the kept cell's figures.
        string x3 = Reliability.InputCopy.Of(x2, Path.Combine(dir, "x3", "hz"));
        string single = Path.Combine(dir, "single");
        Assert.Equal(0, CliRunner.Run("benchmark", "--models", "padim", "--data", x1, "--set", "data.image_size=64", "--output",
            single).ExitCode);
        CliRunner.AssertUserError(CliRunner.Run("benchmark", "--models", "padim", "--data", x3, "--set", "data.image_size=64",
            "--output", single),
            "was run on " + x1, "not " + x3);
        CliRunner.AssertUserError(CliRunner.Run("benchmark", "--models", "padim", "--data", x1, "--seeds", "1,1", "--output",
            Path.Combine(dir, "s")), "--seeds", "'1' is listed 2 times");
    }

    [Fact]
    public void BenchmarkVariantsRunEveryModelUnderEachSettingAsItsOwnColumn()
    {
        string dir = TestPaths.TempDir("benchmark-variants");
        string plan = Path.Combine(dir, "plan.yaml");
        File.WriteAllText(plan, """
            models: [padim]
            data: [synthetic]
            seeds: [3]
            set: [data.image_size=64]
            variants:
              "64": []
              128-tiles-64: [data.image_size=128, data.tiling.tile_size=64, data.tiling.stride=48]
            """);
        string output = Path.Combine(dir, "grid");
        var r = CliRunner.Run("benchmark", "--config", plan, "--output", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var tiled = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "cells", "synthetic-texture__padim@128-tiles-64__s3",
            "cell.json")))!;
        var plain = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "cells", "synthetic-texture__padim@64__s3", "cell.json")))!;
        Assert.Contains("data.tiling.tile_size=64", tiled["sets"]!.AsArray().Select(v => (string)v!));
        Assert.DoesNotContain("data.tiling.tile_size=64", plain["sets"]!.AsArray().Select(v => (string)v!));
        Assert.NotEqual((double)plain["pixel_auroc"]!, (double)tiled["pixel_auroc"]!);
        string md = File.ReadAllText(Path.Combine(output, "benchmark.md"));
        Assert.Contains("| dataset | padim@64 | padim@128-tiles-64 |", md);
        Assert.Contains("AUPRO of regions < 0.1%", md);
        Assert.Equal(3, File.ReadAllLines(Path.Combine(output, "benchmark.csv")).Length);

        File.WriteAllText(plan, "models: [padim]\ndata: [synthetic]\nvariants:\n  \"a/b\": []\n");
        CliRunner.AssertUserError(CliRunner.Run("benchmark", "--config", plan, "--output", Path.Combine(dir, "bad")), "variant name 'a/b'");
    }

    [Fact]
    public void HpoFindsAConfigAtLeastAsGoodAsTheDefaultAndWritesBestYaml()
    {
        string dir = TestPaths.TempDir("hpo-cli");
        var ds = Models.PadimTests.SmallSynthetic();
        string space = Path.Combine(dir, "space.yaml");
        File.WriteAllText(space, "model.n_features: {int: [10, 100]}\nmodel.blur_sigma: {float: [1, 6]}\n");
        var r = CliRunner.Run("hpo", "--model", "padim", "--data", ds.Root, "--space", space, "--trials", "4", "--set",
            "data.image_size=64",
            "--metric", "pixel_auroc", "--output", Path.Combine(dir, "out"));
        Assert.True(r.ExitCode == 0, r.Stderr);
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "out", "final.json")))!;
        Assert.True((double)summary["best_validation"]! >= (double)summary["default_validation"]!);
        Assert.NotNull(summary["final_test"]!["best"]!["pixel_auroc"]);
        Assert.Contains("| 1 |", File.ReadAllText(Path.Combine(dir, "out", "hpo.md")));
        var train = CliRunner.Run("train", "--data", ds.Root, "--config", Path.Combine(dir, "out", "best.yaml"), "--set",
            "visualization.save_images=false", "--output", Path.Combine(dir, "best-run"));
        Assert.True(train.ExitCode == 0, train.Stderr);
        CliRunner.AssertUserError(CliRunner.Run("hpo", "--model", "padim", "--data", ds.Root, "--space", space, "--sampler", "grid",
            "--output", Path.Combine(dir, "g")), "--sampler", "grid");
        File.WriteAllText(space, "model.n_featurs: {int: [10, 100]}\n");
        CliRunner.AssertUserError(CliRunner.Run("hpo", "--model", "padim", "--data", ds.Root, "--space", space, "--output",
            Path.Combine(dir, "h")), "n_featurs");
    }
}
