using AnomalySharp.IO;
using static AnomalySharp.Tests.Cli.CliRunner;

namespace AnomalySharp.Tests.Reliability;

/// <summary>
/// No command deletes or replaces anything it reads: an output that is, contains or lies inside an input is refused
/// (exit 2, both paths named) with or without --overwrite, and --overwrite replaces only what looks like our output.
/// Every case checks that the inputs are byte for byte what they were.
/// </summary>
public class OutputGuardCliTests
{
    [Fact]
    public void NoCommandWritesOverItsOwnInputs()
    {
        string dir = TestPaths.TempDir("guard");
        string ds = InputCopy.Of(TestPaths.SharedData("hazelnut_toy"), Path.Combine(dir, "DS"));
        string model = Path.Combine(dir, "OUT");
        var train = Run("train", "--data", ds, "--output", model, "--set", "data.image_size=64", "--set",
            "visualization.save_images=false");
        Assert.True(train.ExitCode == 0, train.Stderr);
        string onnx = Path.Combine(dir, "m.onnx");
        Assert.Equal(0, Run("export", "--model-path", model, "--output", onnx).ExitCode);
        string input = Path.Combine(dir, "IN");
        Directory.CreateDirectory(input);
        foreach (string f in Directory.GetFiles(Path.Combine(ds, "test", "good"))) File.Copy(f, Path.Combine(input, Path.GetFileName(f)));
        string config = Path.Combine(dir, "cfg.yaml");
        File.WriteAllText(config, "model:\n  name: padim\n");
        string link = Path.Combine(dir, "link");
        File.CreateSymbolicLink(link, ds);
        File.WriteAllText(Path.Combine(ds, "results.json"), "{}"); // a data folder that looks like one of our outputs
        string elsewhere = Path.Combine(dir, "h2", "y");
        Directory.CreateDirectory(elsewhere);
        string hop = Path.Combine(dir, "hop"); // hop/../X is dir/h2/X to the kernel but dir/X to .NET
        File.CreateSymbolicLink(hop, elsewhere);
        string precious = Path.Combine(dir, "precious");
        Directory.CreateDirectory(precious);
        File.WriteAllText(Path.Combine(precious, "notes.txt"), "mine");
        string before = InputCopy.Fingerprint(dir);

        // train: the data folder itself, its parent, a folder inside it, and the same through a symlink and "..".
        AssertUserError(Run("train", "--data", ds, "--output", ds, "--overwrite"), $"output {ds} is the data folder {ds}");
        AssertUserError(Run("train", "--data", ds, "--output", dir, "--overwrite"), $"output {dir} contains the data folder {ds}");
        AssertUserError(Run("train", "--data", ds, "--output", Path.Combine(ds, "runs", "x")), "lies inside the data folder " + ds);
        AssertUserError(Run("train", "--data", ds, "--output", Path.Combine(link, "..", "DS"), "--overwrite"), $"is the data folder {ds}");
        AssertUserError(Run("train", "--data", link, "--output", ds, "--overwrite"), "is the data folder");
        AssertUserError(Run("train", "--normal-dir", Path.Combine(ds, "train", "good"), "--abnormal-dir", Path.Combine(ds, "test",
            "colour"),
            "--output", Path.Combine(ds, "test"), "--overwrite"), "contains the data folder");
        AssertUserError(Run("train", "--config", config, "--data", ds, "--output", config, "--overwrite"), "is the config file");
        AssertUserError(Run("train", "--model", "stfpm", "--data", ds, "--output", Path.Combine(dir, "new"), "--set",
            "training.checkpoint_dir=" + ds, "--overwrite"),
            $"training folder {ds} is the data folder");

        // predict (both runtimes), test, export: the input folder or file, the model folder or file.
        AssertUserError(Run("predict", "--model-path", onnx, "--input", input, "--output", input, "--overwrite"),
            $"output {input} is the input {input}");
        AssertUserError(Run("predict", "--model-path", model, "--input", input, "--output", Path.Combine(input, "p")),
            "lies inside the input");
        AssertUserError(Run("predict", "--model-path", onnx, "--watch", input, "--output", input), "is the watched folder");
        AssertUserError(Run("test", "--model-path", model, "--output", model, "--overwrite"), $"output {model} is the model {model}");
        AssertUserError(Run("test", "--model-path", model, "--output", Path.Combine(ds, "t")), "lies inside the data folder");
        AssertUserError(Run("export", "--model-path", model, "--output", Path.Combine(model, "model.anomalysharp"), "--overwrite"),
            "lies inside the model");
        AssertUserError(Run("export", "--model-path", model, "--output", Path.Combine(input, "q.onnx"), "--int8", "--calibration",
            input), "lies inside the calibration folder");
        AssertUserError(Run("export", "--model-path", model, "--output", Path.Combine(ds, "q.onnx"), "--int8"),
            "lies inside the calibration data folder");
        AssertUserError(Run("export", "--model-path", Path.Combine(model, "model.anomalysharp"), "--output", model, "--format",
            "triton", "--overwrite"), "contains the model");

        // benchmark and hpo keep their outputs to resume them, and must not put them in the data either.
        AssertUserError(Run("benchmark", "--models", "padim", "--data", ds, "--output", Path.Combine(ds, "bench")),
            "lies inside the data folder");
        AssertUserError(Run("hpo", "--model", "padim", "--data", ds, "--space", Path.Combine(TestPaths.RepoRoot, "configs",
            "hpo-padim.yaml"),
            "--output", ds), "is the data folder");

        // ".." after a symbolic link names two places: the guard checked the kernel's, .NET wrote the other (issue 40 A:
        // test deleted the model, predict the input images, train the data folder). Refused for every command.
        AssertUserError(Run("test", "--model-path", model, "--output", Path.Combine(hop, "..", "OUT"), "--overwrite"),
            "names two places", model);
        AssertUserError(Run("predict", "--model-path", onnx, "--input", input, "--output", Path.Combine(hop, "..", "IN"),
            "--overwrite"), "names two places", input);
        AssertUserError(Run("predict", "--model-path", model, "--input", input, "--output", Path.Combine(hop, "..", "IN"),
            "--overwrite"), "names two places");
        AssertUserError(Run("train", "--data", ds, "--output", Path.Combine(hop, "..", "DS"), "--overwrite"), "names two places", ds);
        AssertUserError(Run("export", "--model-path", model, "--format", "triton", "--output", Path.Combine(hop, "..", "OUT"),
            "--overwrite"), "names two places");
        AssertUserError(Run("export", "--model-path", model, "--output", Path.Combine(hop, "..", "m.onnx"), "--overwrite"),
            "names two places");
        Assert.Empty(Directory.GetFileSystemEntries(elsewhere));

        // --overwrite replaces our outputs only.
        AssertUserError(Run("predict", "--model-path", onnx, "--input", input, "--output", precious, "--overwrite"),
            "does not look like an AnomalySharp output");
        AssertUserError(Run("export", "--model-path", model, "--output", Path.Combine(precious, "notes.txt"), "--overwrite"),
            "is not an AnomalySharp ONNX export");

        Assert.Equal(before, InputCopy.Fingerprint(dir));
        Assert.Empty(Directory.GetDirectories(dir, ".*", SearchOption.AllDirectories));

        // What may be replaced still is, through a rename aside: a second predict into the same folder.
        string pred = Path.Combine(dir, "pred");
        var first = Run("predict", "--model-path", onnx, "--input", input, "--output", pred);
        Assert.True(first.ExitCode == 0, first.Stderr);
        var again = Run("predict", "--model-path", onnx, "--input", Directory.GetFiles(input)[0], "--output", pred, "--overwrite");
        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Single(File.ReadAllLines(Path.Combine(pred, "predictions.jsonl")));
        Assert.Empty(Directory.GetDirectories(dir, ".*"));
    }

    [Fact]
    public void ResolveFollowsLinksBeforeDotDot()
    {
        string dir = TestPaths.TempDir("resolve");
        string a = Path.Combine(dir, "a", "deep");
        Directory.CreateDirectory(a);
        string link = Path.Combine(dir, "l");
        File.CreateSymbolicLink(link, a);
        // l/.. is the parent of the link's target (dir/a), not dir, as the kernel resolves it.
        Assert.Equal(Path.Combine(dir, "a"), OutputGuard.Resolve(Path.Combine(link, "..")));
        Assert.Equal(Path.Combine(a, "not", "yet"), OutputGuard.Resolve(Path.Combine(link, "not", "yet")));
        var e = Assert.Throws<AnomalySharpException>(() => OutputGuard.CheckNotInput(Path.Combine(link, "x"), "output",
            new OutputGuard.Input(a, "data folder")));
        Assert.Contains($"output {Path.Combine(a, "x")} lies inside the data folder {a}", e.Message);
    }
}
