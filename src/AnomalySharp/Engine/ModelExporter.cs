using AnomalySharp.Configuration;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Export;
using AnomalySharp.IO;
using AnomalySharp.Packaging;
using Onnx;

namespace AnomalySharp.Engine;

/// <summary>
/// `anomalysharp export`: a saved model to one ONNX file or a Triton Inference Server repository, in float32 or with
/// an INT8 backbone calibrated on normal images. Outputs are written to a temporary name and moved into place.
/// </summary>
internal sealed class ModelExporter
{
    readonly IProgressReporter _progress;
    readonly CancellationToken _cancellation;

    /// <summary>Creates an exporter reporting to <paramref name="progress"/>; cancelling stops it before the next calibration
    /// batch.</summary>
    public ModelExporter(IProgressReporter? progress = null, CancellationToken cancellation = default)
    {
        _progress = progress ?? NullProgress.Instance;
        _cancellation = cancellation;
    }

    /// <summary>What the last written file needs of an ONNX Runtime (also in its metadata as anomalysharp.min_onnxruntime).</summary>
    public Runtime.RuntimeRequirement? Requirement { get; private set; }

    /// <summary>The format named <paramref name="text"/> (export --format).</summary>
    /// <exception cref="AnomalySharpException">No format has that name; the message lists them.</exception>
    public static ExportFormat ParseFormat(string text) => ConfigNames.Parse<ExportFormat>(text)
        ?? throw new AnomalySharpException($"{OptionText.Name("format")}: unknown format '{text}' (known: "
            + $"{string.Join(", ", ConfigNames.Of<ExportFormat>())})");

    /// <summary>
    /// Exports <paramref name="modelPath"/>. For onnx, <paramref name="output"/> is the .onnx file; for triton, the
    /// repository folder (the model goes in output/NAME). <paramref name="calibration"/> is a folder of normal images
    /// (default: the training images of the model's dataset); up to <paramref name="calibrationImages"/> are used.
    /// <paramref name="runtime"/>, when given, is the oldest ONNX Runtime release the file must run in: a file that
    /// needs more is refused before anything is written. Returns the written path.
    /// </summary>
    public string Export(string modelPath, ExportFormat format, string output, bool int8, string? calibration, bool overwrite,
        string? name = null, int calibrationImages = 64, string? runtime = null)
    {
        System.Version? target = null;
        if (runtime != null && (target = Runtime.RuntimeRequirement.ParseRelease(runtime)) == null)
            throw new AnomalySharpException($"{OptionText.Name("runtime")} '{runtime}' is not a release number such as 1.16 or 1.17.3");
        if (calibration != null && !int8) throw new AnomalySharpException($"{OptionText.Name("calibration")} is only used with "
            + $"{OptionText.Name("int8")}");
        if (calibration != null
            && !Directory.Exists(calibration)) throw new AnomalySharpException($"{OptionText.Name("calibration")}: folder not found: "
                + $"{calibration}");
        string full = Path.GetFullPath(output);
        OutputGuard.CheckNotInput(output, "output", new OutputGuard.Input(modelPath, "model"), new OutputGuard.Input(calibration,
            "calibration folder"));
        if (format == ExportFormat.Onnx)
        {
            if (Directory.Exists(full)
                || Path.EndsInDirectorySeparator(full)) throw new AnomalySharpException($"{OptionText.Name("output")} {full} is a "
                    + $"folder; give the .onnx file to write");
            if (File.Exists(full) && !overwrite) throw new AnomalySharpException($"output file {full} already exists (use "
                + $"{OptionText.Name("overwrite")} to replace it)");
            if (File.Exists(full) && !IsExport(full))
                throw new AnomalySharpException($"{full} is not an AnomalySharp ONNX export; not replaced even with "
                    + $"{OptionText.Name("overwrite")}: remove it yourself or choose another output");
        }
        using var trained = TrainedModel.Load(modelPath);
        if (int8 && calibration == null) OutputGuard.CheckNotInput(full, "output", new OutputGuard.Input(trained.DatasetRoot,
            "calibration data folder"));
        int threads = RunSettings.ApplyThreads(trained.Config);
        ModelProto model;
        using (var step = _progress.Start("export onnx", 1)) { model = OnnxExporter.Build(trained); step.Advance(1); }
        if (int8) model = OnnxQuantizer.Quantize(model, CalibrationBatches(trained, calibration, calibrationImages), trained.ImageShape,
            threads);
        StateRequirement(model, runtime, target);
        if (format == ExportFormat.Onnx)
        {
            OnnxExporter.Save(model, full);
            return full;
        }
        string modelName = name ?? $"anomalysharp_{trained.Model.Name}{(int8 ? "_int8" : "")}";
        if (!System.Text.RegularExpressions.Regex.IsMatch(modelName, "^[A-Za-z0-9_.-]+$"))
            throw new AnomalySharpException($"{OptionText.Name("name")} '{modelName}': use letters, digits, '_', '-' and '.' only");
        // A Triton repository is replaced only when it holds a model's config.pbtxt (never checked as results.json).
        using var staged = new StagedOutput(full, overwrite,
            (Directory.Exists(full) ? Directory.GetDirectories(full).Select(d => Path.Combine(Path.GetFileName(d), "config.pbtxt")) : [])
            .Append(Path.Combine(modelName, "config.pbtxt")).Distinct().ToArray());
        TritonRepository.Write(model, staged.Path, modelName);
        staged.Commit();
        return Path.Combine(full, modelName);
    }

    /// <summary>
    /// Records in the metadata the oldest ONNX Runtime that loads <paramref name="model"/>, refuses a target release
    /// that cannot, and warns when the file needs more than the runtimes this project tests, or ONNX Runtime itself.
    /// </summary>
    void StateRequirement(ModelProto model, string? runtime, System.Version? target)
    {
        var needs = Runtime.RuntimeRequirement.Of(model);
        if (target != null && !needs.RunsIn(target))
            throw new AnomalySharpException($"{OptionText.Name("runtime")} {runtime}: this export needs {needs.Describe()}; nothing "
                + $"written");
        Requirement = needs;
        model.MetadataProps.Add(new StringStringEntryProto { Key = "anomalysharp.min_onnxruntime", Value = needs.OldestText });
        if (needs.CustomDomains.Count > 0 || needs.OnnxRuntimeOnlyDomains.Count > 0)
            _progress.Message($"warning: the backbone brings operators outside the ONNX standard: {needs.Describe()}");
        if (!needs.RunsIn(Runtime.RuntimeRequirement.OldestTested))
            _progress.Message($"warning: this export needs {needs.Describe()}, newer than {Runtime.RuntimeRequirement.OldestTested}, "
                + $"the oldest runtime AnomalySharp's exports are tested in");
    }

    /// <summary>Whether a file is an ONNX model with AnomalySharp's metadata (so --overwrite may replace it).</summary>
    static bool IsExport(string path)
    {
        try { return Runtime.OnnxModelFile.Read(File.ReadAllBytes(path), path).Metadata.ContainsKey("anomalysharp.format"); }
        catch (Exception e) when (e is Runtime.ModelLoadException or IOException or UnauthorizedAccessException
            or OutOfMemoryException)
        { return false; }
    }

    IEnumerable<float[]> CalibrationBatches(TrainedModel trained, string? folder, int count)
    {
        List<string> files;
        if (folder != null) files = ImageFiles.List(folder);
        else if (trained.DatasetRoot is { } root && Directory.Exists(Path.Combine(root, "train",
            "good"))) files = ImageFiles.List(Path.Combine(root, "train", "good"));
        else throw new AnomalySharpException($"{OptionText.Name("int8")} needs {OptionText.Name("calibration")} DIR (a folder of "
            + $"normal images): the model's training data is not available");
        if (files.Count == 0) throw new AnomalySharpException($"{OptionText.Name("calibration")}: no images ({ImageFiles.Names}) in "
            + $"{folder ?? trained.DatasetRoot}");
        // An even spread over the folder, deterministic.
        var chosen = Enumerable.Range(0, Math.Min(count, files.Count)).Select(i => files[(int)((long)i * files.Count / Math.Min(count,
            files.Count))]).ToList();
        var samples = chosen.Select(f => new AnomalySample(f, false, "good", null)).ToList();
        var batcher = new Batcher(trained.ImageShape.Height, trained.ImageShape.Width, 8, cancellation: _cancellation) { SkipHint = "" };
        using var step = _progress.Start("int8 calibration", samples.Count);
        foreach (var batch in batcher.Enumerate(samples, false))
        {
            float[] data;
            using (batch) data = batch.Images.contiguous().data<float>().ToArray();
            step.Advance(batch.Samples.Count);
            yield return data;
        }
    }
}
