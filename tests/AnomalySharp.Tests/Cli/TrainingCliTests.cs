using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;

namespace AnomalySharp.Tests.Cli;

public class TrainingCliTests
{
    [Fact]
    public async Task CtrlCSavesACheckpointAndResumeFinishesTheRun()
    {
        string dir = TestPaths.TempDir("cli-sigint");
        string output = Path.Combine(dir, "out");
        string dll = Path.Combine(AppContext.BaseDirectory, "AnomalySharp.Cli.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { dll, "train", "--model", "fastflow", "--set", "data.image_size=64", "--set", "training.max_epochs=40",
                     // a fixed budget: this test is about resuming it
                     "--set", "training.validate_every=0", "--set", "training.monitor=none",
                     "--set", "visualization.save_images=false", "--output", output })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = new StringBuilder();
        var secondEpoch = new TaskCompletionSource();
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data == null) return;
            lock (stderr) stderr.AppendLine(e.Data);
            if (e.Data.StartsWith("epoch 2:", StringComparison.Ordinal)) secondEpoch.TrySetResult();
        };
        p.BeginErrorReadLine();
        var stdout = p.StandardOutput.ReadToEndAsync();
        await secondEpoch.Task.WaitAsync(TimeSpan.FromMinutes(3));
        // Ctrl-C is SIGINT. A test run started as a background job (`cmd &` without job control) ignores SIGINT, the
        // child inherits that, and .NET rightly leaves it ignored; there the same checkpoint path is driven by SIGTERM.
        string signal = SigIntIgnored() ? "-TERM" : "-INT";
        using (var kill = Process.Start("kill", new[] { signal, p.Id.ToString() })) kill.WaitForExit();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(2)), $"did not stop on kill {signal}");
        p.WaitForExit();
        string err; lock (stderr) err = stderr.ToString();
        string output1 = await stdout;
        Assert.True(p.ExitCode == 130, $"exit {p.ExitCode}\n{err}{output1}");
        string checkpoint = Path.Combine(output + ".training", "last.ckpt");
        Assert.Contains("checkpoint saved to " + checkpoint, err);
        Assert.Contains("--resume " + checkpoint, err);
        Assert.DoesNotContain("   at ", err);
        Assert.False(Directory.Exists(output), "an interrupted run leaves no output folder");
        var state = AnomalySharp.Training.Checkpoint.ReadHeader(checkpoint).State;
        Assert.InRange(state.Epoch, 2, 39);

        CliRunner.AssertUserError(CliRunner.Run("train", "--resume", checkpoint, "--set", "training.learning_rate=1"),
            "training.learning_rate=1", "training.max_epochs");

        // Continuing re-uses the checkpoint's configuration, dataset and output folder; it may change the budget (here one
        // epoch past the stop, so the test does not wait for the rest of the 40; the stop comes late on a busy machine).
        int total = state.Epoch + 1;
        var resumed = CliRunner.Run("train", "--resume", checkpoint, "--set", $"training.max_epochs={total}");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Contains($"resuming from {checkpoint}: epoch {state.Epoch} done", resumed.Stderr);
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "results.json")))!;
        Assert.Equal(total, (int)results["training"]!["epochs"]!);
        Assert.Equal(total + 1, File.ReadAllLines(Path.Combine(output, "training", "metrics.csv")).Length);
        Assert.False(Directory.Exists(output + ".training"));
    }

    /// <summary>Whether this process ignores SIGINT (bit 2 of SigIgn in /proc/self/status).</summary>
    static bool SigIntIgnored()
    {
        string? line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line != null && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & 0x2) != 0;
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
        CliRunner.AssertUserError(CliRunner.Run("train", "--model", "stfpm", "--set", "training.optimizer=rmsprop", "--output",
            Path.Combine(dir, "o")),
            "training.optimizer", "rmsprop");
        CliRunner.AssertUserError(CliRunner.Run("train", "--model", "stfpm", "--set", "training.monitor=pixel_auroc", "--set",
            "training.validate_every=0",
            "--output", Path.Combine(dir, "o")), "training.monitor", "validate_every");
        CliRunner.AssertUserError(CliRunner.Run("train", "--model", "fastflow", "--set", "data.image_size=72", "--output",
            Path.Combine(dir, "o")),
            "data.image_size", "multiple of 16");
    }
}
