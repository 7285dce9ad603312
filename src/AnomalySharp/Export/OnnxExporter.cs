using System.Globalization;
using AnomalySharp.Inference;
using AnomalySharp.IO;
using AnomalySharp.Packaging;
using AnomalySharp.PostProcessing;
using AnomalySharp.Runtime;
using AnomalySharp.Tiling;
using Google.Protobuf;
using Onnx;

namespace AnomalySharp.Export;

/// <summary>
/// Writes a trained model as one self-contained ONNX file: input <c>image</c> [N,3,S,S] (RGB, 0..1, dynamic N),
/// outputs <c>anomaly_map</c> [N,1,S,S] and <c>score</c> [N], both min-max normalized so that 0.5 is the threshold.
/// Backbone preprocessing, the model and the normalization are all in the graph; the metadata_props carry the model
/// name, image size, thresholds and library version. See docs/deployment.md.
/// </summary>
public static class OnnxExporter
{
    /// <summary>The graph input's name.</summary>
    public const string InputName = InferenceGraph.InputName;
    /// <summary>The normalized anomaly map output's name.</summary>
    public const string MapName = "anomaly_map";
    /// <summary>The normalized image score output's name.</summary>
    public const string ScoreName = "score";

    /// <summary>Builds the ONNX model of a trained model.</summary>
    public static ModelProto Build(TrainedModel trained)
    {
        var (h, w) = trained.ImageShape;
        var g = new OnnxGraph();
        var (maps, scores) = InferenceGraph.Append(g, trained.Model, h, w);
        var s = trained.Stats;
        string normMaps = MinMaxNormalizer.AppendOnnx(g, maps, s.PixelThreshold, s.PixelMin, s.PixelMax);
        string normScores = MinMaxNormalizer.AppendOnnx(g, scores, s.ImageThreshold, s.ImageMin, s.ImageMax);
        g.Rename(normMaps, MapName);
        g.Rename(normScores, ScoreName);
        g.Output(MapName, "batch", 1, h, w);
        g.Output(ScoreName, "batch");
        var metadata = Metadata(trained);
        metadata["anomalysharp.max_batch"] = trained.Model.OnnxMaxBatch.ToString(CultureInfo.InvariantCulture);
        if (trained.Model is TiledModel tiled)
        {
            metadata["anomalysharp.tile_size"] = tiled.Grid.TileSize.ToString(CultureInfo.InvariantCulture);
            metadata["anomalysharp.tile_stride"] = tiled.Grid.Stride.ToString(CultureInfo.InvariantCulture);
            metadata["anomalysharp.tiles"] = tiled.Grid.Count.ToString(CultureInfo.InvariantCulture);
            metadata["anomalysharp.tiled_ensemble"] = tiled is TiledEnsembleModel ? "true" : "false";
        }
        return g.ToModel(metadata,
            $"AnomalySharp {trained.Model.Name}: image [N,3,{h},{w}] RGB 0..1 -> anomaly_map [N,1,{h},{w}] and score [N], normalized, "
                + $"anomalous at >= 0.5");
    }

    /// <summary>The metadata_props written into every export.</summary>
    public static Dictionary<string, string> Metadata(TrainedModel trained)
    {
        string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        var s = trained.Stats;
        return new Dictionary<string, string>
        {
            ["anomalysharp.format"] = "anomalysharp-onnx",
            ["anomalysharp.format_version"] = "1",
            ["anomalysharp.library_version"] = typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "",
            ["anomalysharp.model"] = trained.Model.Name,
            ["anomalysharp.backbone"] = trained.Config.Has("model.backbone") ? trained.Config.GetString("model.backbone") : "",
            ["anomalysharp.image_size"] = Configuration.WorkingSize.Describe(trained.ImageShape.Height, trained.ImageShape.Width),
            ["anomalysharp.image_height"] = trained.ImageShape.Height.ToString(CultureInfo.InvariantCulture),
            ["anomalysharp.image_width"] = trained.ImageShape.Width.ToString(CultureInfo.InvariantCulture),
            ["anomalysharp.input"] = "RGB float 0..1, NCHW, resized to image_height x image_width (antialiased bilinear)",
            ["anomalysharp.image_threshold"] = "0.5",
            ["anomalysharp.pixel_threshold"] = "0.5",
            ["anomalysharp.raw_image_threshold"] = F(s.ImageThreshold),
            ["anomalysharp.raw_pixel_threshold"] = F(s.PixelThreshold),
            ["anomalysharp.raw_image_min"] = F(s.ImageMin),
            ["anomalysharp.raw_image_max"] = F(s.ImageMax),
            ["anomalysharp.raw_pixel_min"] = F(s.PixelMin),
            ["anomalysharp.raw_pixel_max"] = F(s.PixelMax),
            ["anomalysharp.precision"] = "float32",
            // The runtime's own preprocessing graph (decoded RGBA to this input), for consumers that are not this runtime.
            ["anomalysharp.preprocess_onnx"] = Convert.ToBase64String(Runtime.ImagePreprocessor.Graph(trained.ImageShape.Height,
                trained.ImageShape.Width)),
        };
    }

    /// <summary>
    /// Records the SHA-256 of the serialized graph (weights included) in the metadata, which the runtime verifies at
    /// load (<see cref="OnnxModelFile.Verify"/>). Call last, after every change to the graph.
    /// </summary>
    public static void Seal(ModelProto model)
    {
        string checksum = OnnxModelFile.Checksum(model.Graph.ToByteArray());
        var existing = model.MetadataProps.Where(p => p.Key == OnnxModelFile.ChecksumKey).ToList();
        foreach (var p in existing) model.MetadataProps.Remove(p);
        model.MetadataProps.Add(new StringStringEntryProto { Key = OnnxModelFile.ChecksumKey, Value = checksum });
    }

    /// <summary>Seals and writes the ONNX file atomically (a temporary file moved into place).</summary>
    public static void Save(ModelProto model, string path)
    {
        string full = Path.GetFullPath(path);
        if (Path.EndsInDirectorySeparator(full)) throw new AnomalySharpException($"{path} ends in a separator, which names a folder: "
            + $"give the .onnx file to write");
        Seal(model);
        string tmp = full + ".partial";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            using var pending = PendingOutputs.RegisterFile(tmp);
            using (var file = IO.LargeFile.Create(tmp)) model.WriteTo(file);
            PendingOutputs.Commit(() => File.Move(tmp, full, overwrite: true));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw new AnomalySharpException($"cannot write {full}: {e.Message}", e);
        }
    }
}
