using System.Text.Json.Nodes;

namespace AnomalySharp.Tests.Cli;

public class TrainingCliTests
{
    [Fact]
    public void CtrlCSavesACheckpointAndResumeFinishesTheRun()
    {
        string dir = TestPaths.TempDir("cli-sigint");
        string output = Path.Combine(dir, "out");
        var r = CliRunner.Interrupt("epoch 2:", "INT", "train", "--model", "fastflow", "--set", "data.image_size=64", "--set", "training.max_epochs=40",
            "--set", "training.validate_every=0", "--set", "visualization.save_images=false", "--output", output);
        string err = r.Stderr;
        Assert.True(r.Code == 130, $"exit {r.Code}\n{err}{r.Stdout}");
        string checkpoint = Path.Combine(output + ".training", "last.ckpt");
        Assert.Contains("checkpoint saved to " + checkpoint, err);
        Assert.Contains("--resume " + checkpoint, err);
        Assert.DoesNotContain("   at ", err);
        Assert.False(Directory.Exists(output), "an interrupted run leaves no output folder");
        var state = AnomalySharp.Training.Checkpoint.ReadHeader(checkpoint).State;
        Assert.InRange(state.Epoch, 2, 39);

        CliRunner.AssertUserError(CliRunner.Run("train", "--resume", checkpoint, "--set", "training.learning_rate=1"),
            "training.learning_rate=1", "training.max_epochs");

        // Continuing re-uses the checkpoint's configuration, dataset and output folder; it may train longer.
        var resumed = CliRunner.Run("train", "--resume", checkpoint, "--set", "training.max_epochs=41");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Contains($"resuming from {checkpoint}: epoch {state.Epoch} done", resumed.Stderr);
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "results.json")))!;
        Assert.Equal(41, (int)results["training"]!["epochs"]!);
        Assert.Equal(42, File.ReadAllLines(Path.Combine(output, "training", "metrics.csv")).Length);
        Assert.False(Directory.Exists(output + ".training"));
    }

    [Fact]
    public void ResumeMistakesAreOneLineErrors()
    {
        string dir = TestPaths.TempDir("cli-resume-errors");
        string junk = Path.Combine(dir, "junk.ckpt");
        File.WriteAllText(junk, "not a checkpoint");
        CliRunner.AssertUserError(CliRunner.Run("train", "--resume", junk), junk, "not an AnomalySharp training checkpoint");
        CliRunner.AssertUserError(CliRunner.Run("train", "--resume", Path.Combine(dir, "missing.ckpt")), "checkpoint not found");
        CliRunner.AssertUserError(CliRunner.Run("train", "--resume", junk, "--model", "stfpm"), "--resume", "--model");
        CliRunner.AssertUserError(CliRunner.Run("train", "--model", "padim", "--resume", junk, "--data", dir), "--resume");
        CliRunner.AssertUserError(CliRunner.Run("train", "--model", "stfpm", "--set", "training.optimizer=rmsprop", "--output", Path.Combine(dir, "o")),
            "training.optimizer", "rmsprop");
        CliRunner.AssertUserError(CliRunner.Run("train", "--model", "stfpm", "--set", "training.monitor=pixel_auroc", "--set", "training.validate_every=0",
            "--output", Path.Combine(dir, "o")), "training.monitor", "validate_every");
        CliRunner.AssertUserError(CliRunner.Run("train", "--model", "fastflow", "--set", "data.image_size=72", "--output", Path.Combine(dir, "o")),
            "data.image_size", "multiple of 16");
    }
}
