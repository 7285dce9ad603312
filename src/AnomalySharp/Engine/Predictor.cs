using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Export;
using AnomalySharp.IO;
using AnomalySharp.Packaging;
using AnomalySharp.Runtime;

namespace AnomalySharp.Engine;

/// <summary>
/// `predict`, for an exported .onnx file and a saved model alike (whose export is built in memory): the runtime's
/// detector streams the images in batches with bounded memory and one writer puts heatmaps/NAME.png,
/// masks/NAME_mask.png and one line per image in predictions.jsonl as it goes; <see cref="Watch"/> polls a folder and
/// scores every new image as it arrives (frames from a camera), until cancelled.
/// </summary>
internal sealed class Predictor : IDisposable
{
    readonly OnnxAnomalyDetector _detector;
    readonly bool _skipBad;
    readonly IProgressReporter _progress;
    readonly string _modelPath;
    readonly CancellationToken _cancellation;

    /// <summary>
    /// Loads <paramref name="modelPath"/>: an exported .onnx file, or a saved model (a training output folder or its
    /// model file), which is exported in memory. <paramref name="batchSize"/> images are scored at once with
    /// <paramref name="threads"/> threads (0: every core); left null, they are a saved model's data.batch_size and
    /// runtime.threads, or 16 and every core for an .onnx file. <paramref name="skipBad"/> skips unreadable images
    /// with a message instead of stopping.
    /// </summary>
    public Predictor(string modelPath, int? batchSize, int? threads, bool skipBad, IProgressReporter? progress = null,
        CancellationToken cancellation = default)
    {
        if (IsOnnx(modelPath))
        {
            BatchSize = batchSize ?? 16;
            CheckBatchSize();
            _detector = new OnnxAnomalyDetector(modelPath, new DetectorOptions { ThreadsPerSession = threads ?? 0 });
        }
        else
        {
            // The model file is read once: for its own batch size and threads, and for the export built in memory.
            using var trained = TrainedModel.Load(modelPath);
            var saved = EngineOptions.From(trained.Config);
            BatchSize = batchSize ?? saved.BatchSize;
            CheckBatchSize();
            _detector = trained.CreateDetector(new DetectorOptions { ThreadsPerSession = threads ?? saved.Threads });
        }
        _skipBad = skipBad; _progress = progress ?? NullProgress.Instance; _modelPath = modelPath; _cancellation = cancellation;
    }

    void CheckBatchSize()
    {
        if (BatchSize is < 1 or > 1024) throw new AnomalySharpException($"batch size must be 1..1024, got {BatchSize}");
    }

    /// <summary>Images scored at once.</summary>
    public int BatchSize { get; }

    /// <summary>Whether a model path names an exported ONNX file (rather than a saved model).</summary>
    public static bool IsOnnx(string modelPath) => modelPath.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);

    double? RawThreshold => _detector.Metadata.TryGetValue("anomalysharp.raw_image_threshold", out var t)
        && double.TryParse(t, System.Globalization.NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : null;

    /// <summary>Scores a file or a folder into a staged output folder. Returns (images, seconds).</summary>
    public (int Images, double Seconds) Run(string input, string output, bool overwrite)
    {
        var files = Predictor.ListInputs(input);
        OutputGuard.CheckNotInput(output, "output", new OutputGuard.Input(_modelPath, "model"), new OutputGuard.Input(input, "input"));
        using var staged = new StagedOutput(output, overwrite, "predictions.jsonl");
        var clock = Stopwatch.StartNew();
        int done;
        using (var writer = new PredictionWriter(staged.Path, RawThreshold))
        using (var step = _progress.Start("predict", files.Count))
        {
            done = 0;
            foreach (var chunk in files.Chunk(BatchSize))
            {
                _cancellation.ThrowIfCancellationRequested();
                done += ScoreBatch(chunk, writer,
                    failed => throw new AnomalySharpException($"{failed} (use {OptionText.Name("skipBadImages")} to go on without it)"));
                step.Advance(chunk.Length);
            }
        }
        staged.Commit();
        return (done, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Polls <paramref name="folder"/> and scores each new, completely written image until cancelled.</summary>
    public int Watch(string folder, string output, CancellationToken cancel, TimeSpan poll)
    {
        if (!Directory.Exists(folder)) throw new AnomalySharpException($"{OptionText.Name("watch")}: folder not found: {folder}");
        OutputGuard.CheckNotInput(output, "output", new OutputGuard.Input(_modelPath, "model"), new OutputGuard.Input(folder,
            "watched folder"));
        Directory.CreateDirectory(output);
        using var writer = new PredictionWriter(output, RawThreshold, append: true);
        var seen = new HashSet<string>(writer.DonePaths, StringComparer.Ordinal);
        var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
        var failures = new Dictionary<string, int>(StringComparer.Ordinal);
        int total = 0;
        var clock = Stopwatch.StartNew();
        _progress.Message($"watching {Path.GetFullPath(folder)} -> {Path.GetFullPath(output)} (Ctrl-C to stop)");
        while (!cancel.IsCancellationRequested)
        {
            // A file is taken once its size is the same on two polls (the writer has finished with it).
            var ready = new List<string>();
            foreach (string f in ImageFiles.List(folder))
            {
                string full = Path.GetFullPath(f);
                if (seen.Contains(full)) continue;
                if (BoundedFile.KindOf(full) == BoundedFile.Kind.Special)
                {
                    // A device or pipe never settles into an image (a link to /dev/zero reports 0 bytes and never ends).
                    _progress.Message($"skipped: {full}: not a regular file (a device, pipe or socket)");
                    seen.Add(full);
                    continue;
                }
                long size = new FileInfo(full).Length;
                if (size > 0 && sizes.TryGetValue(full, out long last) && last == size) ready.Add(full);
                sizes[full] = size;
            }
            foreach (var chunk in ready.Chunk(BatchSize))
            {
                int n = ScoreBatch(chunk, writer, failed =>
                {
                    string path = failed.Split(':')[0];
                    failures[path] = failures.GetValueOrDefault(path) + 1;
                    if (failures[path] >= 3) { _progress.Message("skipped: " + failed); seen.Add(path); }
                });
                foreach (string f in chunk) if (!failures.ContainsKey(f)) { seen.Add(f); sizes.Remove(f); }
                total += n;
                if (n > 0) _progress.Message(FormattableString.Invariant($"{total} images, {total / clock.Elapsed.TotalSeconds:0.0} ")
                    + FormattableString.Invariant($"images/s overall"));
            }
            cancel.WaitHandle.WaitOne(poll);
        }
        return total;
    }

    int ScoreBatch(IReadOnlyList<string> paths, PredictionWriter writer, Action<string> onBadImage)
    {
        var images = new List<(string Path, DecodedImage Image)>();
        try
        {
            foreach (string p in paths)
            {
                try { images.Add((p, _detector.Decode(_detector.ReadFile(p), p))); }
                catch (ImageDecodeException e) { if (_skipBad) _progress.Message("skipped: " + e.Message); else onBadImage(e.Message); }
                catch (IOException e) { onBadImage($"{p}: cannot read image file ({e.Message})"); }
            }
            var results = _detector.Predict(images.Select(i => i.Image).ToList(), masks: true, overlays: true);
            for (int i = 0; i < results.Length; i++) writer.Write(images[i].Path, results[i]);
            writer.Flush();
            return results.Length;
        }
        finally { foreach (var (_, image) in images) image.Dispose(); }
    }

    /// <inheritdoc />
    public void Dispose() => _detector.Dispose();

    /// <summary>heatmaps/NAME.png, masks/NAME_mask.png and one JSON line per image.</summary>
    sealed class PredictionWriter : IDisposable
    {
        readonly string _root;
        readonly StreamWriter _lines;
        readonly double? _rawThreshold;
        public List<string> DonePaths { get; } = new();

        public PredictionWriter(string root, double? rawThreshold, bool append = false)
        {
            _root = root; _rawThreshold = rawThreshold;
            Directory.CreateDirectory(Path.Combine(root, "heatmaps"));
            Directory.CreateDirectory(Path.Combine(root, "masks"));
            string jsonl = Path.Combine(root, "predictions.jsonl");
            if (append && File.Exists(jsonl))
                foreach (string line in File.ReadLines(jsonl))
                    if (line.Length > 0 && JsonNode.Parse(line)?["path"]?.GetValue<string>() is { } p) DonePaths.Add(p);
            _lines = new StreamWriter(jsonl, append);
        }

        public void Write(string path, AnomalyPrediction r)
        {
            string stem = Path.GetFileNameWithoutExtension(path);
            File.WriteAllBytes(Path.Combine(_root, "heatmaps", stem + ".png"), r.OverlayPng!);
            File.WriteAllBytes(Path.Combine(_root, "masks", stem + "_mask.png"), r.MaskPng!);
            _lines.WriteLine(new JsonObject
            {
                ["path"] = path,
                ["score"] = Math.Round(r.Score, 6),
                ["label"] = r.IsAnomalous ? "anomalous" : "normal",
                ["threshold"] = r.Threshold,
                ["raw_image_threshold"] = _rawThreshold,
                ["time_utc"] = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture),
            }.ToJsonString());
        }

        public void Flush() => _lines.Flush();
        public void Dispose() => _lines.Dispose();
    }

    /// <summary>
    /// The images to predict: one file, or the images of a folder (names must be unique, since outputs are named after
    /// them). Only paths are held, so a folder of any size streams.
    /// </summary>
    public static List<string> ListInputs(string input)
    {
        List<string> files;
        if (File.Exists(input)) files = new List<string> { Path.GetFullPath(input) };
        else if (Directory.Exists(input)) files = ImageFiles.List(input);
        else throw new AnomalySharpException($"input not found: {input}");
        if (files.Count == 0) throw new AnomalySharpException($"{input}: no images ({ImageFiles.Names}) to predict");
        var duplicate = files.GroupBy(f => Path.GetFileNameWithoutExtension(f)).FirstOrDefault(g => g.Count() > 1);
        if (duplicate != null) throw new AnomalySharpException($"{input}: two images share the name '{duplicate.Key}' "
            + $"({string.Join(", ", duplicate.Select(Path.GetFileName))})");
        return files;
    }
}
