using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AnomalySharp.Tests.Export;
using AnomalySharp.Tests.Models;
using Microsoft.ML.OnnxRuntime;

namespace AnomalySharp.Tests.Cli;

/// <summary>export (onnx, triton, int8), predict with an .onnx model (folder and --watch), and serve, as a user runs them.</summary>
public class ExportAndDeployCliTests
{
    [Fact]
    public void TritonRepositoryMatchesTheOnnxGraph()
    {
        string dir = TestPaths.TempDir("triton");
        var r = CliRunner.Run("export", "--model-path", ExportedSynthetic.ModelDir, "--format", "triton", "--output", Path.Combine(dir,
            "repo"), "--name", "tiles");
        Assert.True(r.ExitCode == 0, r.Stderr);
        string config = File.ReadAllText(Path.Combine(dir, "repo", "tiles", "config.pbtxt"));
        string onnx = Path.Combine(dir, "repo", "tiles", "1", "model.onnx");
        using var session = new InferenceSession(onnx);
        Assert.Contains("name: \"tiles\"", config);
        Assert.Contains("platform: \"onnxruntime_onnx\"", config);
        Assert.Contains("dynamic_batching", config);
        var entries = Regex.Matches(config,
            @"name: ""(\w+)""\s+data_type: (\w+)\s+dims: \[ ([^\]]*) \]").ToDictionary(m => m.Groups[1].Value, m => m.Groups[3].Value);
        foreach (var (name, meta) in session.InputMetadata.Concat(session.OutputMetadata))
        {
            Assert.True(entries.ContainsKey(name), $"{name} missing from config.pbtxt");
            Assert.Equal(-1, meta.Dimensions[0]); // dynamic batch: Triton's max_batch_size dimension
            string expected = meta.Dimensions.Length == 1 ? "1" : string.Join(", ", meta.Dimensions.Skip(1));
            Assert.Equal(expected, entries[name]);
        }
        Assert.Equal(session.InputMetadata.Count + session.OutputMetadata.Count, entries.Count);
        Assert.Equal("padim", session.ModelMetadata.CustomMetadataMap["anomalysharp.model"]);
        CliRunner.AssertUserError(CliRunner.Run("export", "--model-path", ExportedSynthetic.ModelDir, "--format", "triton", "--output",
            Path.Combine(dir, "repo")), "already exists");
        CliRunner.AssertUserError(CliRunner.Run("export", "--model-path", ExportedSynthetic.ModelDir, "--format", "tflite", "--output",
            Path.Combine(dir, "x")), "--format", "tflite");
        CliRunner.AssertUserError(CliRunner.Run("export", "--model-path", ExportedSynthetic.ModelDir, "--output", Path.Combine(dir,
            "y.onnx"), "--calibration", dir), "--calibration", "--int8");
    }

    [Fact]
    public void ExportStatesTheOldestRuntimeAndRefusesATargetThatCannotRunIt()
    {
        string dir = TestPaths.TempDir("export-runtime");
        string onnx = Path.Combine(dir, "m.onnx");
        // Opset 17 and IR 8 need ONNX Runtime 1.12: a 1.11 target is refused before anything is written.
        CliRunner.AssertUserError(CliRunner.Run("export", "--model-path", ExportedSynthetic.ModelDir, "--output", onnx, "--runtime",
            "1.11"),
            "--runtime 1.11", "ONNX Runtime 1.12 or later", "nothing written");
        Assert.False(File.Exists(onnx));
        Assert.Empty(Directory.GetFiles(dir));
        CliRunner.AssertUserError(CliRunner.Run("export", "--model-path", ExportedSynthetic.ModelDir, "--output", onnx, "--runtime",
            "newest"), "--runtime", "newest");
        var r = CliRunner.Run("export", "--model-path", ExportedSynthetic.ModelDir, "--output", onnx, "--runtime", "1.17.3");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("runs in ONNX Runtime 1.12 or later (IR 8, opset 17)", r.Stdout);
        Assert.DoesNotContain("warning", r.Stderr);
        using var session = new InferenceSession(onnx);
        Assert.Equal("1.12", session.ModelMetadata.CustomMetadataMap["anomalysharp.min_onnxruntime"]);
    }

    [Fact]
    public void Int8ExportKeepsTheDecisionsOfTheFloatModel()
    {
        string dir = TestPaths.TempDir("int8");
        var ds = PadimTests.SmallSynthetic();
        string calibration = Path.Combine(ds.Root, "train", "good");
        var r = CliRunner.Run("export", "--model-path", ExportedSynthetic.ModelDir, "--output", Path.Combine(dir, "int8.onnx"),
            "--int8", "--calibration", calibration);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("int8", r.Stdout);
        using (var session = new InferenceSession(Path.Combine(dir, "int8.onnx")))
        {
            Assert.StartsWith("int8", session.ModelMetadata.CustomMetadataMap["anomalysharp.precision"]);
            Assert.StartsWith("mean 0.", session.ModelMetadata.CustomMetadataMap["anomalysharp.int8_score_drift"]);
        }
        var floatScores = Predict(ExportedSynthetic.Onnx, ds.Test.Select(s => s.ImagePath));
        var int8Scores = Predict(Path.Combine(dir, "int8.onnx"), ds.Test.Select(s => s.ImagePath));
        var labels = ds.Test.Select(s => s.IsAnomalous).ToArray();
        double aurocFloat = AnomalySharp.Metrics.Auroc.Compute(floatScores, labels),
            aurocInt8 = AnomalySharp.Metrics.Auroc.Compute(int8Scores, labels);
        Assert.True(aurocInt8 >= aurocFloat - 0.01, $"int8 AUROC {aurocInt8} vs float {aurocFloat}");
        double drift = floatScores.Zip(int8Scores).Average(p => Math.Abs(p.First - p.Second));
        int agree = floatScores.Zip(int8Scores).Count(p => (p.First >= 0.5) == (p.Second >= 0.5));
        Assert.True(agree >= 0.8 * labels.Length,
            $"int8 labels agree with float on {agree}/{labels.Length}; mean |score change| {drift}; AUROC {aurocInt8} vs {aurocFloat}");
        Assert.True(drift < 0.1, $"int8 scores drifted from float: mean |change| {drift}; AUROC {aurocInt8} vs {aurocFloat}");
    }

    static float[] Predict(string onnx, IEnumerable<string> files)
    {
        using var detector = new AnomalySharp.Runtime.OnnxAnomalyDetector(onnx);
        return detector.PredictFiles(files.ToList()).Select(p => p.Score).ToArray();
    }

    [Fact]
    public void PredictWithAnOnnxModelEqualsTheSavedModel()
    {
        string dir = TestPaths.TempDir("predict-onnx");
        var ds = PadimTests.SmallSynthetic();
        string input = Path.Combine(dir, "in");
        Directory.CreateDirectory(input);
        foreach (var s in ds.Test.Take(6)) File.Copy(s.ImagePath, Path.Combine(input, s.DefectType + "_" + Path.GetFileName(s.ImagePath)));
        var a = CliRunner.Run("predict", "--model-path", ExportedSynthetic.Onnx, "--input", input, "--output", Path.Combine(dir,
            "onnx"), "--batch-size", "4");
        Assert.True(a.ExitCode == 0, a.Stderr);
        Assert.Contains("onnxruntime, batch 4", a.Stdout);
        var b = CliRunner.Run("predict", "--model-path", ExportedSynthetic.ModelDir, "--input", input, "--output", Path.Combine(dir,
            "saved"));
        Assert.True(b.ExitCode == 0, b.Stderr);
        var onnx = Lines(Path.Combine(dir, "onnx", "predictions.jsonl"));
        var saved = Lines(Path.Combine(dir, "saved", "predictions.jsonl"));
        Assert.Equal(6, onnx.Count);
        foreach (var (path, line) in onnx)
        {
            // One inference path: the saved model is exported in memory, so the scores agree to the written 6 digits
            // (at batch 4 against the config's batch size: a last-bit difference may round the other way).
            Assert.Equal((string)saved[path]["label"]!, (string)line["label"]!);
            Assert.True(Math.Abs((double)saved[path]["score"]! - (double)line["score"]!) <= 1.000001e-6, path);
            Assert.Equal((double)saved[path]["raw_image_threshold"]!, (double)line["raw_image_threshold"]!);
            string stem = Path.GetFileNameWithoutExtension(path);
            Assert.True(File.Exists(Path.Combine(dir, "onnx", "masks", stem + "_mask.png")));
            Assert.True(File.Exists(Path.Combine(dir, "onnx", "heatmaps", stem + ".png")));
        }
        CliRunner.AssertUserError(CliRunner.Run("predict", "--model-path", Path.Combine(dir, "none.onnx"), "--input", input, "--output",
            Path.Combine(dir, "n")), "none.onnx", "not found");
        CliRunner.AssertUserError(CliRunner.Run("predict", "--model-path", ExportedSynthetic.Onnx, "--output", Path.Combine(dir, "n")),
            "--input", "--watch");
    }

    static Dictionary<string, JsonObject> Lines(string path) =>
        File.ReadAllLines(path).Select(l => JsonNode.Parse(l)!.AsObject()).ToDictionary(o => (string)o["path"]!);

    static Process Start(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "AnomalySharp.Cli.dll"));
        foreach (string a in args) psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    static void WaitFor(Func<bool> condition, string what, int seconds = 60)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed.TotalSeconds < seconds, $"timed out waiting for {what}");
            Thread.Sleep(100);
        }
    }

    [Fact]
    public void WatchScoresImagesAsTheyArrive()
    {
        string dir = TestPaths.TempDir("watch");
        string incoming = Path.Combine(dir, "camera"), output = Path.Combine(dir, "out");
        Directory.CreateDirectory(incoming);
        var ds = PadimTests.SmallSynthetic();
        using var p = Start("predict", "--model-path", ExportedSynthetic.Onnx, "--watch", incoming, "--output", output);
        try
        {
            string jsonl = Path.Combine(output, "predictions.jsonl");
            int Count()
            {
                try
                {
                    using var s = new FileStream(jsonl, FileMode.Open, FileAccess.Read,
                FileShare.ReadWrite); using var r = new StreamReader(s); return r.ReadToEnd().Split('\n',
                    StringSplitOptions.RemoveEmptyEntries).Length;
                }
                catch (IOException) { return 0; }
            }
            var frames = ds.Test.Take(5).ToList();
            for (int i = 0; i < frames.Count; i++)
            {
                // A camera writes a frame under a temporary name and renames it when complete.
                string tmp = Path.Combine(incoming, $"frame{i}.tmp");
                File.Copy(frames[i].ImagePath, tmp);
                File.Move(tmp, Path.Combine(incoming, $"frame{i}.png"));
                int expected = i + 1;
                WaitFor(() => Count() == expected, $"frame {i} to be scored");
            }
            Assert.True(File.Exists(Path.Combine(output, "masks", "frame4_mask.png")));
            var labels = File.ReadAllLines(Path.Combine(output,
                "predictions.jsonl")).Select(l => (string)JsonNode.Parse(l)!["label"]!).ToList();
            Assert.Equal(frames.Select(f => f.IsAnomalous ? "anomalous" : "normal"), labels);
        }
        finally
        {
            if (!p.HasExited) p.Kill(true);
            p.WaitForExit();
        }
    }

    [Fact]
    public async Task ServeCommandAnswersOnLoopbackAndStopsCleanly()
    {
        using var p = Start("serve", "--model", ExportedSynthetic.Onnx, "--port", "0");
        try
        {
            string line = await p.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)) ?? "";
            var match = Regex.Match(line, @"on (http://127\.0\.0\.1:\d+/)");
            Assert.True(match.Success, "unexpected first line: " + line);
            using var http = new HttpClient { BaseAddress = new Uri(match.Groups[1].Value), Timeout = TimeSpan.FromSeconds(60) };
            Assert.Contains("\"ok\"", await http.GetStringAsync("health"));
            Assert.Contains("<title>AnomalySharp</title>", await http.GetStringAsync(""));
        }
        finally
        {
            if (!p.HasExited) p.Kill(true);
            p.WaitForExit();
        }
        CliRunner.AssertUserError(CliRunner.Run("serve", "--model", "/nonexistent/m.onnx", "--port", "0"), "/nonexistent/m.onnx",
            "not found");
        CliRunner.AssertUserError(CliRunner.Run("serve", "--model", ExportedSynthetic.Onnx, "--host", "localhost-ish"), "--host");
        CliRunner.AssertUserError(CliRunner.Run("serve", "--model", ExportedSynthetic.ModelDir, "--port", "0"), ".onnx");
        CliRunner.AssertUserError(CliRunner.Run("serve", "--model", ExportedSynthetic.Onnx, "--sessions", "0"),
            "--sessions must be 1..64, got 0");
        CliRunner.AssertUserError(CliRunner.Run("serve", "--model", ExportedSynthetic.Onnx, "--body-timeout", "NaN"),
            "--body-timeout must be a finite number");
    }
}
