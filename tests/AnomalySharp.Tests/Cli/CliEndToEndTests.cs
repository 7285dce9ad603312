using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using AnomalySharp.Tests.Models;
using static AnomalySharp.Tests.Cli.CliRunner;

namespace AnomalySharp.Tests.Cli;

public class CliEndToEndTests
{
    static readonly string[] RequiredKeys =
    {
        "image_auroc", "image_f1max", "pixel_auroc", "pixel_f1max", "aupro", "aupr", "image_threshold", "pixel_threshold",
        "fit_seconds", "predict_images_per_second", "peak_memory_mb", "n_train", "n_test", "model", "backbone", "image_size", "seed",
            "timings",
    };

    [Fact]
    public void TrainTestPredictRoundTrip()
    {
        var ds = PadimTests.SmallSynthetic();
        string dir = TestPaths.TempDir("cli");
        string run = Path.Combine(dir, "run");
        var train = Run("train", "--model", "padim", "--data", ds.Root, "--output", run, "--set", "data.image_size=128", "--seed", "42");
        Assert.True(train.ExitCode == 0, train.Stderr);
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "results.json")))!.AsObject();
        foreach (string k in RequiredKeys) Assert.True(results.ContainsKey(k), k);
        // Every stage of the run is timed, and the stages add up to the whole (less what ran before the clock started).
        var timings = results["timings"]!.AsObject();
        foreach (string stage in new[] { "prepare", "fit", "graph", "evaluate", "calibrate", "save", "metrics", "report" })
            Assert.True(timings.ContainsKey(stage) && (double)timings[stage]! >= 0, $"timings.{stage}: {timings.ToJsonString()}");
        double stages = timings.Where(t => t.Key != "total" && !t.Key.EndsWith("_parts", StringComparison.Ordinal))
            .Sum(t => (double)t.Value!);
        Assert.True(stages <= (double)timings["total"]! + 1e-3 && stages >= 0.9 * (double)timings["total"]!, timings.ToJsonString());
        // PaDiM times the parts of its fit, and they add up to the fit.
        var parts = timings["fit_parts"]!.AsObject();
        foreach (string part in new[] { "waiting_for_images", "backbone", "gaussian_update", "finish" })
            Assert.True(parts.ContainsKey(part) && (double)parts[part]! >= 0, $"timings.fit_parts.{part}: {parts.ToJsonString()}");
        // (each figure is rounded to the millisecond, so the sum may differ from the fit's by a few)
        Assert.True(Math.Abs((double)timings["fit"]! - parts.Sum(p => (double)p.Value!)) <= 0.01, timings.ToJsonString());
        Assert.True((double)results["image_auroc"]! >= 0.95);
        Assert.Equal(ds.Test.Count, Directory.GetFiles(Path.Combine(run, "images"), "*.png").Length);
        string report = File.ReadAllText(Path.Combine(run, "report.html"));
        Assert.Contains("image_auroc", report);
        Assert.Contains("images/scratch_000.png", report);
        Assert.Empty(Directory.GetDirectories(dir, ".*partial*"));

        // test: a new process reloads the model and reproduces the metrics exactly.
        string testOut = Path.Combine(dir, "test");
        var test = Run("test", "--model-path", run, "--output", testOut);
        Assert.True(test.ExitCode == 0, test.Stderr);
        var again = JsonNode.Parse(File.ReadAllText(Path.Combine(testOut, "results.json")))!.AsObject();
        foreach (string k in new[] { "image_auroc", "pixel_auroc", "aupro", "image_f1max", "pixel_f1max", "image_threshold",
            "image_accuracy_at_threshold" })
            Assert.Equal(results[k]!.ToJsonString(), again[k]!.ToJsonString());

        // predict: one JSON line per image, heat maps, masks at the original size.
        string predOut = Path.Combine(dir, "pred");
        string input = Path.Combine(ds.Root, "test", "hole");
        var predict = Run("predict", "--model-path", Path.Combine(run, "model.anomalysharp"), "--input", input, "--output", predOut);
        Assert.True(predict.ExitCode == 0, predict.Stderr);
        var lines = File.ReadAllLines(Path.Combine(predOut, "predictions.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal(Directory.GetFiles(input).Length, lines.Count);
        Assert.All(lines, l => Assert.InRange((double)l["score"]!, 0, 1));
        Assert.True(lines.Count(l => (string)l["label"]! == "anomalous") >= lines.Count - 1);
        var mask = AnomalySharp.Data.ImageIO.Decode(Path.Combine(predOut, "masks", "000_mask.png"));
        Assert.Equal((128, 128), (mask.Width, mask.Height)); // the synthetic images are 128 px
        Assert.True(File.Exists(Path.Combine(predOut, "heatmaps", "000.png")));
    }

    [Fact]
    public void DefaultTrainRunsOnTheBuiltInSyntheticData()
    {
        string run = Path.Combine(TestPaths.TempDir("cli-default"), "run");
        var r = Run("train", "--output", run);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "results.json")))!.AsObject();
        Assert.Equal("padim", (string)results["model"]!);
        Assert.True((double)results["image_auroc"]! >= 0.95);
        Assert.Contains("synthetic", (string)results["dataset"]!);
    }

    [Fact]
    public void UserMistakesGiveOneLineAndExitCodeTwo()
    {
        var ds = PadimTests.SmallSynthetic();
        string dir = TestPaths.TempDir("cli-errors");
        AssertUserError(Run("train", "--model", "nosuch", "--data", ds.Root, "--output", Path.Combine(dir, "a")),
            "unknown model 'nosuch'", "padim");
        AssertUserError(Run("train", "--data", Path.Combine(dir, "missing"), "--output", Path.Combine(dir, "b")), "missing");
        AssertUserError(Run("train", "--data", ds.Root, "--set", "model.n_featurs=3", "--output", Path.Combine(dir, "c")),
            "model.n_featurs");
        AssertUserError(Run("train", "--bogus-option"), "--bogus-option");
        AssertUserError(Run("train", "--config", Path.Combine(dir, "none.yaml")), "none.yaml");
        Directory.CreateDirectory(Path.Combine(dir, "exists"));
        AssertUserError(Run("train", "--data", ds.Root, "--output", Path.Combine(dir, "exists")), "already exists", "--overwrite");
        AssertUserError(Run("test", "--model-path", Path.Combine(dir, "nomodel"), "--output", Path.Combine(dir, "t")), "nomodel");
        AssertUserError(Run("predict", "--model-path", Path.Combine(dir, "x"), "--input", Path.Combine(dir, "noinput"), "--output",
            Path.Combine(dir, "p")), "noinput");
        Assert.False(Directory.Exists(Path.Combine(dir, "a")));
    }

    [Fact]
    public void DamagedOrForeignModelFilesAreRefused()
    {
        var ds = PadimTests.SmallSynthetic();
        string dir = TestPaths.TempDir("cli-model");
        string run = Path.Combine(dir, "run");
        Assert.Equal(0, Run("train", "--data", ds.Root, "--output", run, "--set", "data.image_size=64", "--set",
            "visualization.save_images=false").ExitCode);
        string model = Path.Combine(run, "model.anomalysharp");

        // A flipped byte inside a stored tensor: caught by the checksums.
        string damaged = Path.Combine(dir, "damaged.anomalysharp");
        File.Copy(model, damaged);
        using (var zip = ZipFile.Open(damaged, ZipArchiveMode.Update))
        {
            var entry = zip.GetEntry("tensors/mean.bin")!;
            byte[] bytes;
            using (var s = entry.Open()) { var ms = new MemoryStream(); s.CopyTo(ms); bytes = ms.ToArray(); }
            bytes[10] ^= 0x40;
            entry.Delete();
            using var w = zip.CreateEntry("tensors/mean.bin").Open();
            w.Write(bytes);
        }
        AssertUserError(Run("test", "--model-path", damaged, "--output", Path.Combine(dir, "t1")), "damaged.anomalysharp", "damaged",
            "mean.bin");

        // A file cut short.
        string cut = Path.Combine(dir, "cut.anomalysharp");
        File.WriteAllBytes(cut, File.ReadAllBytes(model).AsSpan(0, 5000).ToArray());
        AssertUserError(Run("test", "--model-path", cut, "--output", Path.Combine(dir, "t2")), "cut.anomalysharp");

        // A consistent file from another format version.
        string future = Path.Combine(dir, "future.anomalysharp");
        File.Copy(model, future);
        using (var zip = ZipFile.Open(future, ZipArchiveMode.Update))
        {
            var entry = zip.GetEntry("manifest.json")!;
            JsonObject manifest;
            using (var s = entry.Open()) manifest = JsonNode.Parse(s)!.AsObject();
            manifest["format_version"] = 99;
            byte[] text = Encoding.UTF8.GetBytes(manifest.ToJsonString());
            entry.Delete(); zip.GetEntry("manifest.sha256")!.Delete();
            using (var w = zip.CreateEntry("manifest.json").Open()) w.Write(text);
            string hash = Convert.ToHexString(SHA256.HashData(text)).ToLowerInvariant();
            using (var w = zip.CreateEntry("manifest.sha256").Open()) w.Write(Encoding.ASCII.GetBytes(hash));
        }
        AssertUserError(Run("test", "--model-path", future, "--output", Path.Combine(dir, "t3")), "format version 99");
        Assert.False(Directory.Exists(Path.Combine(dir, "t1")));
    }

    [Fact]
    public void AFailureHalfWayLeavesNoOutputFolder()
    {
        string root = AnomalySharp.Tests.Data.TestImages.MiniMvtec(TestPaths.TempDir("cli-atomic"));
        string bad = Path.Combine(root, "test/dent/001.png");
        File.WriteAllBytes(bad, File.ReadAllBytes(bad).AsSpan(0, 50).ToArray());
        string outDir = Path.Combine(TestPaths.TempDir("cli-atomic-out"), "out");
        AssertUserError(Run("train", "--data", root, "--output", outDir, "--set", "data.image_size=64"), "001.png");
        Assert.False(Directory.Exists(outDir));
        Assert.Empty(Directory.GetDirectories(Path.GetDirectoryName(Path.GetFullPath(outDir))!, ".out.partial*"));
        var ok = Run("train", "--data", root, "--output", outDir, "--set", "data.image_size=64", "--skip-bad-images");
        Assert.True(ok.ExitCode == 0, ok.Stderr);
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")))!.AsObject();
        Assert.Single(results["skipped_images"]!.AsArray());
        Assert.Equal(3, (int)results["n_test"]!);
    }
}
