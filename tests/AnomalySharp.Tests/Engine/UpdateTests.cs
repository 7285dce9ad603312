using System.Text.Json.Nodes;
using AnomalySharp.Tests.Cli;
using AnomalySharp.Tests.Models;
using AnomalySharp.Tests.Reliability;

namespace AnomalySharp.Tests.Engine;

/// <summary>
/// Issue 33, item 4: `anomalysharp update` folds new good images into a saved model, through the real CLI on
/// hazelnut_toy at 64 px: half of its 28 good training images to train, the other half to update with.
/// </summary>
public class UpdateTests
{
    static readonly string Hazelnut = TestPaths.SharedData("hazelnut_toy");

    static JsonObject Results(string folder) => JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "results.json")))!.AsObject();

    /// <summary>
    /// Two MVTec roots beside <paramref name="dir"/>: "first" with the first 14 good images, "all" with all 28, both with
    /// hazelnut_toy's test images (linked); and "new", the other 14 good images.
    /// </summary>
    internal static (string First, string All, string New) Halves(string dir)
    {
        var good = Directory.GetFiles(Path.Combine(Hazelnut, "train", "good")).Order(StringComparer.Ordinal).ToList();
        string first = Path.Combine(dir, "first"), all = Path.Combine(dir, "all"), fresh = Path.Combine(dir, "new");
        foreach (string root in new[] { first, all })
        {
            Directory.CreateDirectory(Path.Combine(root, "train", "good"));
            File.CreateSymbolicLink(Path.Combine(root, "test"), Path.Combine(Hazelnut, "test"));
            File.CreateSymbolicLink(Path.Combine(root, "ground_truth"), Path.Combine(Hazelnut, "ground_truth"));
        }
        Directory.CreateDirectory(fresh);
        foreach (var (file, i) in good.Select((f, i) => (f, i)))
        {
            File.Copy(file, Path.Combine(i < 14 ? Path.Combine(first, "train", "good") : fresh, Path.GetFileName(file)));
            File.Copy(file, Path.Combine(all, "train", "good", Path.GetFileName(file)));
        }
        return (first, all, fresh);
    }

    static void Ok(CliRunner.Result r) => Assert.True(r.ExitCode == 0, r.Stderr);

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // tiled: the model that sees the tiles is updated with the new images' tiles
    public void PadimUpdatedWithNewImagesScoresAsAFitOnAllOfThem(bool tiled)
    {
        string dir = TestPaths.TempDir("update-padim");
        var (first, all, fresh) = Halves(dir);
        string[] small = { "--set", "data.image_size=64", "--set", "data.batch_size=5", "--set",
            "data.tiling.tile_size=" + (tiled ? "32" : "0") };
        Ok(CliRunner.Run(new[] { "train", "--data", first, "--output", Path.Combine(dir, "m") }.Concat(small).ToArray()));
        string before = InputCopy.Fingerprint(Path.Combine(dir, "m"));
        var r = CliRunner.Run("update", "--model-path", Path.Combine(dir, "m"), "--normal-dir", fresh, "--output", Path.Combine(dir, "u"));
        Ok(r);
        Assert.Contains("update: 14 new images fitted", r.Stdout);
        Assert.Equal(before, InputCopy.Fingerprint(Path.Combine(dir, "m"))); // the old model is read, never written
        Ok(CliRunner.Run(new[] { "train", "--data", all, "--output", Path.Combine(dir, "a") }.Concat(small).ToArray()));

        // Every test image's score (thresholds chosen again by F1, as the model's were) within 1e-5 of the fit on all 28.
        var updated = TrainedModelsTests.Scores(Path.Combine(dir, "u"));
        var direct = TrainedModelsTests.Scores(Path.Combine(dir, "a"));
        Assert.Equal(23, updated.Length);
        for (int i = 0; i < direct.Length; i++) Assert.True(Math.Abs(updated[i] - direct[i]) <= 1e-5,
            $"image {i}: {updated[i]} vs {direct[i]}");
        var u = Results(Path.Combine(dir, "u"));
        Assert.Equal(28, (int)u["n_train"]!);
        Assert.Equal((double)Results(Path.Combine(dir, "a"))["pixel_auroc"]!, (double)u["pixel_auroc"]!, 4);
        var update = u["update"]!.AsObject();
        Assert.Equal(14, (int)update["new_fitted"]!);
        Assert.Equal(1, (int)update["updates"]!);
        Assert.Contains("exact", (string)update["mode"]!);

        // The same folder again: everything in it is known, so nothing is counted twice.
        CliRunner.AssertUserError(CliRunner.Run("update", "--model-path", Path.Combine(dir, "u"), "--normal-dir", fresh, "--output",
            Path.Combine(dir, "u2")),
            "all 14 images are already in the model");
        // In place, only when asked.
        CliRunner.AssertUserError(CliRunner.Run("update", "--model-path", Path.Combine(dir, "m"), "--normal-dir", fresh, "--output",
            Path.Combine(dir, "m")),
            "the model's own folder", "--overwrite");
        Assert.Equal(before, InputCopy.Fingerprint(Path.Combine(dir, "m")));
        Ok(CliRunner.Run("update", "--model-path", Path.Combine(dir, "m", "model.anomalysharp"), "--normal-dir", fresh, "--output",
            Path.Combine(dir, "m"), "--overwrite"));
        Assert.Equal(updated, TrainedModelsTests.Scores(Path.Combine(dir, "m")));
    }

    [Fact]
    public void PatchCoreOnGoodImagesOnlyGrowsItsBankAndRecalibratesOnOldAndNewHeldOutImages()
    {
        string dir = TestPaths.TempDir("update-patchcore");
        var (first, _, fresh) = Halves(dir);
        string good = Path.Combine(first, "train", "good");
        string[] small = { "--set", "data.image_size=64", "--set", "postprocessing.false_alarm_rate=0.34" };
        // 14 good images: 3 for the Folder layout's test share, 11 to train on, of which 2 are held out to calibrate.
        Ok(CliRunner.Run(new[] { "train", "--model", "patchcore", "--normal-dir", good, "--output", Path.Combine(dir,
            "m") }.Concat(small).ToArray()));
        var m = Results(Path.Combine(dir, "m"));
        Assert.Equal(2, (int)m["threshold"]!["n_calibration"]!);
        Assert.Equal(9, (int)m["n_train"]!);

        var r = CliRunner.Run("update", "--model-path", Path.Combine(dir, "m"), "--normal-dir", fresh, "--output", Path.Combine(dir, "u"));
        Ok(r);
        var u = Results(Path.Combine(dir, "u"));
        var threshold = u["threshold"]!.AsObject();
        Assert.Equal("false_alarm_rate", (string)threshold["method"]!);
        var calibration = threshold["calibration_images"]!.AsArray().Select(p => (string)p!).ToList();
        Assert.Equal(5, calibration.Count); // the model's 2 and 3 of the 14 new (20%)
        Assert.Equal(2, calibration.Count(p => p.StartsWith(good, StringComparison.Ordinal)));
        Assert.Equal(3, calibration.Count(p => p.StartsWith(fresh, StringComparison.Ordinal)));
        Assert.InRange((double)threshold["calibration_false_alarm_rate"]!, 0, 0.34);
        Assert.Equal(20, (int)u["n_train"]!); // 9 + 11
        Assert.Equal(3, (int)u["n_test"]!);   // the model's own test images, measured again
        Assert.Contains("bank", (string)u["update"]!["mode"]!);
        Assert.Contains("patchcore: the bank grew by", r.Stderr);
        // What it fitted and calibrated on is known to a second update: all of these are.
        CliRunner.AssertUserError(CliRunner.Run("update", "--model-path", Path.Combine(dir, "u"), "--normal-dir", fresh, "--output",
            Path.Combine(dir, "u2")),
            "already in the model");
        Assert.Equal(0, CliRunner.Run("export", "--model-path", Path.Combine(dir, "u"), "--output", Path.Combine(dir, "u.onnx")).ExitCode);
    }

    [Fact]
    public void ATrainedNetworkIsFineTunedFromItsWeightsOnOldAndNewImages()
    {
        string dir = TestPaths.TempDir("update-stfpm");
        var (first, _, fresh) = Halves(dir);
        Ok(CliRunner.Run("train", "--model", "stfpm", "--data", first, "--set", "data.image_size=64", "--set", "training.max_epochs=2",
            "--set", "training.update_epochs=1", "--output", Path.Combine(dir, "m")));
        var r = CliRunner.Run("update", "--model-path", Path.Combine(dir, "m"), "--normal-dir", fresh, "--output", Path.Combine(dir, "u"));
        Ok(r);
        var u = Results(Path.Combine(dir, "u"));
        Assert.Equal(1, (int)u["training"]!["epochs"]!);
        Assert.Equal(28, (int)u["n_train"]!);
        Assert.Contains("fine-tuned", (string)u["update"]!["mode"]!);
        Assert.NotNull(u["image_auroc"]);
        Assert.False(Directory.Exists(Path.Combine(dir, "u.training")));
        Assert.True(File.Exists(Path.Combine(dir, "u", "training", "metrics.csv")));

        // The images it was trained on are needed again: gone, the update says which.
        string gone = Path.Combine(first, "train", "good");
        Directory.Move(gone, gone + ".moved");
        CliRunner.AssertUserError(CliRunner.Run("update", "--model-path", Path.Combine(dir, "m"), "--normal-dir", fresh, "--output",
            Path.Combine(dir, "u3")),
            "fine-tuned on the images it was trained on", "14 of the 14 are gone");
        Assert.False(Directory.Exists(Path.Combine(dir, "u3")));
    }

    [Fact]
    public void BadInputIsRefusedWithOneLineAndTheModelIsUntouched()
    {
        string dir = TestPaths.TempDir("update-refused");
        var (first, _, fresh) = Halves(dir);
        string model = Path.Combine(dir, "m");
        Ok(CliRunner.Run("train", "--data", first, "--set", "data.image_size=64", "--output", model));
        string before = InputCopy.Fingerprint(model);
        string Out(string name) => Path.Combine(dir, name);

        string empty = Directory.CreateDirectory(Out("empty")).FullName;
        CliRunner.AssertUserError(CliRunner.Run("update", "--model-path", model, "--normal-dir", empty, "--output", Out("o1")), empty,
            "no images");
        CliRunner.AssertUserError(CliRunner.Run("update", "--model-path", model, "--normal-dir", Out("missing"), "--output", Out("o2")),
            "normal folder not found");

        // A file that is not a model, and an exported graph.
        string foreign = Out("foreign.anomalysharp");
        File.WriteAllText(foreign, "not a model");
        CliRunner.AssertUserError(CliRunner.Run("update", "--model-path", foreign, "--normal-dir", fresh, "--output", Out("o3")), foreign);
        Ok(CliRunner.Run("export", "--model-path", model, "--output", Out("m.onnx")));
        CliRunner.AssertUserError(CliRunner.Run("update", "--model-path", Out("m.onnx"), "--normal-dir", fresh, "--output", Out("o4")),
            "exported .onnx");

        // Images of another shape would be stretched differently: magnetic_tile's are not square like hazelnut's.
        string tile = Directory.CreateDirectory(Out("tiles")).FullName;
        foreach (string f in Directory.GetFiles(Path.Combine(TestPaths.SharedData("magnetic_tile"), "train",
            "good")).Order(StringComparer.Ordinal).Take(3))
            File.Copy(f, Path.Combine(tile, Path.GetFileName(f)));
        CliRunner.AssertUserError(CliRunner.Run("update", "--model-path", model, "--normal-dir", tile, "--output", Out("o5")),
            "stretched", "training images");

        // A tiled ensemble standardizes each position by its old tiles: refused, not approximated.
        string ensemble = Out("ensemble");
        Ok(CliRunner.Run("train", "--data", first, "--set", "data.image_size=64", "--set", "data.tiling.tile_size=32", "--set",
            "data.tiling.ensemble=true",
            "--set", "model.n_features=20", "--set", "visualization.save_images=false", "--output", ensemble));
        CliRunner.AssertUserError(CliRunner.Run("update", "--model-path", ensemble, "--normal-dir", fresh, "--output", Out("o6")),
            "tiled ensemble");

        Assert.Equal(before, InputCopy.Fingerprint(model));
        foreach (string o in new[] { "o1", "o2", "o3", "o4", "o5", "o6" }) Assert.False(Directory.Exists(Out(o)), o);
        Assert.Empty(Directory.GetDirectories(dir, ".o*"));
    }
}
