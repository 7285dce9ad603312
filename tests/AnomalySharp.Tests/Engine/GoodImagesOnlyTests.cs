using System.Text.Json.Nodes;
using AnomalySharp.Tests.Cli;
using AnomalySharp.Tests.Reliability;

namespace AnomalySharp.Tests.Engine;

/// <summary>
/// Issue 33: a user with good images only trains, gets a threshold with a stated false-alarm guarantee, results.json
/// and a report, through the real CLI on hazelnut_toy (28 good training images, at 64 px).
/// </summary>
public class GoodImagesOnlyTests
{
    static JsonObject Results(string folder) => JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "results.json")))!.AsObject();

    static void AssertGuarantee(JsonObject results, double rate, int calibration)
    {
        var t = results["threshold"]!.AsObject();
        Assert.Equal("false_alarm_rate", (string)t["method"]!);
        Assert.Equal(rate, (double)t["false_alarm_rate"]!);
        Assert.Equal(calibration, (int)t["n_calibration"]!);
        Assert.Equal(calibration, t["calibration_images"]!.AsArray().Count);
        Assert.InRange((double)t["calibration_false_alarm_rate"]!, 0, rate);
        Assert.Equal(calibration, (int)results["n_validation"]!);
    }

    [Fact]
    public void AFolderOfGoodImagesAloneTrainsWithAGuaranteedThreshold()
    {
        string good = Path.Combine(TestPaths.SharedData("hazelnut_toy"), "train", "good");
        string dir = TestPaths.TempDir("good-only");
        string output = Path.Combine(dir, "m");
        // The default rate, 0.01, needs 99 held-out images: 22 training images (28 less the Folder layout's test share) give 4.
        CliRunner.AssertUserError(CliRunner.Run("train", "--normal-dir", good, "--set", "data.image_size=64", "--output", output),
            "needs at least 99 held-out good images", "is 4", "at least 0.2");
        CliRunner.AssertUserError(CliRunner.Run("train", "--normal-dir", good, "--set", "data.image_size=64", "--set",
            "postprocessing.threshold=f1", "--output", output),
            "postprocessing.threshold=f1", "false_alarm_rate");
        Assert.False(Directory.Exists(output));

        var r = CliRunner.Run("train", "--normal-dir", good, "--set", "data.image_size=64", "--set",
            "postprocessing.false_alarm_rate=0.2", "--output", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("threshold: false_alarm_rate: at most 0.2 of good images flagged", r.Stdout);
        var results = Results(output);
        AssertGuarantee(results, 0.2, 4);
        Assert.Equal(18, (int)results["n_train"]!);
        Assert.Equal(6, (int)results["n_test"]!); // the Folder layout's held-out normals, never fitted or calibrated on
        var calibration = results["threshold"]!["calibration_images"]!.AsArray().Select(p => (string)p!).ToList();
        Assert.All(calibration, p => Assert.StartsWith(good, p));
        Assert.Null(results["image_auroc"]); // no defects: no AUROC, said as null rather than a number
        Assert.NotNull(results["false_alarm_rate_at_threshold"]);
        string report = File.ReadAllText(Path.Combine(output, "report.html"));
        Assert.Contains("<svg", report);
        Assert.Contains("held-out good", report);
        Assert.Contains("at most 0.2 of good images flagged", report);
        Assert.True(File.Exists(Path.Combine(output, "model.anomalysharp")));
        // The model exports and predicts like any other.
        Assert.Equal(0, CliRunner.Run("export", "--model-path", output, "--output", Path.Combine(dir, "m.onnx")).ExitCode);
    }

    [Fact]
    public void AnMvtecRootWithoutTestImagesWorksForEveryKindOfModelAndForTiling()
    {
        string dir = TestPaths.TempDir("train-only");
        string root = Path.Combine(dir, "parts");
        InputCopy.Of(Path.Combine(TestPaths.SharedData("hazelnut_toy"), "train"), Path.Combine(root, "train"));
        string[][] runs =
        {
            new[] { "--model", "padim" },
            new[] { "--model", "patchcore" },
            new[] { "--model", "stfpm", "--set", "training.max_epochs=1" },
            new[] { "--model", "padim", "--set", "data.image_size=128", "--set", "data.tiling.tile_size=64" },
        };
        foreach (var (args, i) in runs.Select((a, i) => (a, i)))
        {
            string output = Path.Combine(dir, $"run{i}");
            var r = CliRunner.Run(new[] { "train", "--data", root, "--set", "data.image_size=64", "--set",
                "postprocessing.false_alarm_rate=0.15", "--output", output }
                .Concat(args).ToArray());
            Assert.True(r.ExitCode == 0, string.Join(" ", args) + ": " + r.Stderr);
            var results = Results(output);
            AssertGuarantee(results, 0.15, 6); // 20% of 28
            Assert.Equal(22, (int)results["n_train"]!);
            Assert.StartsWith("held-out good images", (string)results["evaluated_on"]!);
            Assert.Equal(6, Directory.GetFiles(Path.Combine(output, "images")).Length);
        }
        // `test` needs test images, and says so.
        CliRunner.AssertUserError(CliRunner.Run("test", "--model-path", Path.Combine(dir, "run0"), "--output", Path.Combine(dir, "t")),
            "no test images");
    }

    [Fact]
    public void WithDefectsTheGoodImagesThresholdIsReportedBesideTheF1Oracle()
    {
        string data = TestPaths.SharedData("hazelnut_toy");
        string output = Path.Combine(TestPaths.TempDir("far-with-defects"), "m");
        var r = CliRunner.Run("train", "--data", data, "--set", "data.image_size=64", "--set", "postprocessing.threshold=false_alarm_rate",
            "--set", "postprocessing.false_alarm_rate=0.15", "--output", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var results = Results(output);
        AssertGuarantee(results, 0.15, 6);
        Assert.Equal(23, (int)results["n_test"]!);
        foreach (string key in new[] { "image_precision_at_threshold", "image_recall_at_threshold", "image_f1_at_threshold",
            "image_f1max", "image_auroc" })
            Assert.InRange((double)results[key]!, 0, 1);
        Assert.True((double)results["image_f1_at_threshold"]! <= (double)results["image_f1max"]! + 1e-9);
        // The default with defects stays the F1 rule, without holding any training image out.
        var f1 = CliRunner.Run("train", "--data", data, "--set", "data.image_size=64", "--output",
            Path.Combine(Path.GetDirectoryName(output)!, "f1"));
        Assert.True(f1.ExitCode == 0, f1.Stderr);
        var f1Results = Results(Path.Combine(Path.GetDirectoryName(output)!, "f1"));
        Assert.Equal("f1", (string)f1Results["threshold"]!["method"]!);
        Assert.Equal(28, (int)f1Results["n_train"]!);
    }
}
