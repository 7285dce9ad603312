using System.Text.Json.Nodes;
using AnomalySharp.Configuration;
using AnomalySharp.Models;
using AnomalySharp.PostProcessing;

namespace AnomalySharp.Packaging;

/// <summary>
/// A fitted model with everything needed to use it: its configuration, thresholds and normalization statistics,
/// and the dataset it was trained on. Saves to and loads from a <see cref="ModelPackage"/> file.
/// </summary>
public sealed class TrainedModel : IDisposable
{
    /// <summary>The fitted model.</summary>
    public IAnomalyModel Model { get; }
    /// <summary>The resolved configuration it was built from.</summary>
    public ConfigTree Config { get; }
    /// <summary>Thresholds and min/max statistics.</summary>
    public NormalizationStats Stats { get; }
    /// <summary>Root folder of the training dataset, or null.</summary>
    public string? DatasetRoot { get; }
    /// <summary>What the model learned from and how its thresholds were chosen (null in files saved before it was kept).</summary>
    internal ModelProvenance? Provenance { get; init; }

    /// <summary>The prefix of the update state's tensors in the file (<see cref="IUpdatableModel.GetUpdateState"/>).</summary>
    const string UpdatePrefix = "update.";
    /// <summary>The working (height, width) the model takes its input at (data.image_size).</summary>
    public (int Height, int Width) ImageShape => Configuration.WorkingSize.Read(Config);

    /// <summary>Wraps a fitted model.</summary>
    public TrainedModel(IAnomalyModel model, ConfigTree config, NormalizationStats stats, string? datasetRoot)
    {
        Model = model; Config = config; Stats = stats; DatasetRoot = datasetRoot;
    }

    /// <summary>Writes the model file.</summary>
    public void Save(string path)
    {
        var manifest = new JsonObject
        {
            ["library_version"] = typeof(TrainedModel).Assembly.GetName().Version?.ToString(),
            ["model"] = Model.Name,
            ["created_utc"] = DateTime.UtcNow.ToString("o"),
            ["image_size"] = ImageShape.Height == ImageShape.Width ? ImageShape.Height : new JsonArray(ImageShape.Height, ImageShape.Width),
            ["config"] = JsonNode.Parse(Config.ToJson()),
            ["normalization"] = new JsonObject
            {
                ["image_threshold"] = Stats.ImageThreshold, ["pixel_threshold"] = Stats.PixelThreshold,
                ["image_min"] = Stats.ImageMin, ["image_max"] = Stats.ImageMax,
                ["pixel_min"] = Stats.PixelMin, ["pixel_max"] = Stats.PixelMax,
            },
            ["dataset_root"] = DatasetRoot,
            ["provenance"] = Provenance?.ToJson(),
        };
        var state = Model.GetState().ToDictionary(kv => kv.Key, kv => kv.Value);
        if (Model is IUpdatableModel updatable)
            foreach (var (name, t) in updatable.GetUpdateState()) state[UpdatePrefix + name] = t;
        ModelPackage.Save(path, manifest, state);
    }

    /// <summary>
    /// Loads a model file, or the model file inside a training output folder. The result gives the same scores
    /// as the model that was saved.
    /// </summary>
    /// <param name="path">The file, or the training output folder holding it.</param>
    /// <param name="forUpdate">Keep what `update` needs beyond inference (PaDiM's float64 sums); otherwise it is freed at once.</param>
    public static TrainedModel Load(string path, bool forUpdate = false)
    {
        string file = Directory.Exists(path) ? Path.Combine(path, ModelPackage.FileName) : path;
        var (manifest, tensors) = ModelPackage.Load(file);
        try
        {
            var config = ConfigTree.FromJson(manifest["config"]!.ToJsonString());
            var n = manifest["normalization"]!;
            var stats = new NormalizationStats((double)n["image_threshold"]!, (double)n["pixel_threshold"]!,
                (double)n["image_min"]!, (double)n["image_max"]!, (double)n["pixel_min"]!, (double)n["pixel_max"]!);
            var provenance = ModelProvenance.FromJson(manifest["provenance"]);
            var model = Tiling.TiledModels.Create(config);
            var update = tensors.Where(kv => kv.Key.StartsWith(UpdatePrefix,
                StringComparison.Ordinal)).ToDictionary(kv => kv.Key[UpdatePrefix.Length..], kv => kv.Value);
            foreach (string name in update.Keys) tensors.Remove(UpdatePrefix + name);
            model.LoadState(tensors);
            if (forUpdate && model is IUpdatableModel updatable) updatable.LoadUpdateState(update);
            else foreach (var t in update.Values) t.Dispose();
            return new TrainedModel(model, config, stats, (string?)manifest["dataset_root"]) { Provenance = provenance };
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw new AnomalySharpException($"{file}: model file is damaged ({e.Message})", e);
        }
    }

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}
