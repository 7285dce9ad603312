using AnomalySharp.Configuration;
using AnomalySharp.PostProcessing;

namespace AnomalySharp.Engine;

/// <summary>
/// The keys of a configuration the engine itself reads, read and checked once, before any work starts: a typo or an
/// out-of-range value fails at once, naming its key, instead of after a whole fit. (Each model checks its own
/// model.* and training.* keys when it is built, which also happens before the fit.)
/// </summary>
internal sealed record EngineOptions
{
    /// <summary>postprocessing.threshold (configurations saved before it: auto).</summary>
    public ThresholdMethod ThresholdMethod { get; init; } = ThresholdMethod.Auto;
    /// <summary>postprocessing.false_alarm_rate: the image-level bound r.</summary>
    public double FalseAlarmRate { get; init; } = 0.01;
    /// <summary>postprocessing.pixel_false_alarm_rate: the share of good pixels above the pixel threshold.</summary>
    public double PixelFalseAlarmRate { get; init; } = 0.01;
    /// <summary>data.normal_validation_fraction: the share of normal training images held out to calibrate false_alarm_rate
    /// thresholds.</summary>
    public double NormalValidationFraction { get; init; } = 0.2;

    /// <summary>
    /// The rule a run uses: manual when validation is none (raw thresholds given); auto is false_alarm_rate exactly when
    /// the data has no defective images.
    /// </summary>
    public ThresholdRule ResolveThreshold(bool dataHasDefects) => (Validation, ThresholdMethod) switch
    {
        (ValidationSource.None, _) => ThresholdRule.Manual,
        (_, ThresholdMethod.F1) => ThresholdRule.F1,
        (_, ThresholdMethod.FalseAlarmRate) => ThresholdRule.FalseAlarmRate,
        _ => dataHasDefects ? ThresholdRule.F1 : ThresholdRule.FalseAlarmRate,
    };

    /// <summary>The choices of postprocessing.validation.</summary>

    /// <summary>model.name.</summary>
    public required string ModelName { get; init; }
    /// <summary>model.backbone, or null for a model without one.</summary>
    public string? Backbone { get; init; }
    /// <summary>seed: every random choice of the run.</summary>
    public required int Seed { get; init; }
    /// <summary>data.image_size: the working height every image is resized to.</summary>
    public required int ImageHeight { get; init; }
    /// <summary>data.image_size: the working width (the height for a square working size).</summary>
    public required int ImageWidth { get; init; }
    /// <summary>data.batch_size.</summary>
    public required int BatchSize { get; init; }
    /// <summary>data.skip_bad_images.</summary>
    public required bool SkipBadImages { get; init; }
    /// <summary>runtime.threads, resolved (0 became the number of cores).</summary>
    public required int Threads { get; init; }
    /// <summary>postprocessing.validation: where thresholds come from (test, holdout or none).</summary>
    public required ValidationSource Validation { get; init; }
    /// <summary>postprocessing.validation_fraction: the held-out share of the test images with holdout.</summary>
    public required double ValidationFraction { get; init; }
    /// <summary>postprocessing.image_threshold (raw), or null to calibrate it.</summary>
    public double? ImageThreshold { get; init; }
    /// <summary>postprocessing.pixel_threshold (raw), or null to calibrate it.</summary>
    public double? PixelThreshold { get; init; }
    /// <summary>visualization.save_images.</summary>
    public required bool SaveImages { get; init; }
    /// <summary>runtime.evaluation_memory_mb in bytes: an evaluation whose maps, masks and pictures take more goes to temporary
    /// files.</summary>
    public long EvaluationMemoryBytes { get; init; } = 1024L << 20;
    /// <summary>Pixels per sorted run of the pixel metrics: half of <see cref="EvaluationMemoryBytes"/> at 8 bytes a pixel, 4,096 to 64
    /// M.</summary>
    public long SortRunLength => Math.Clamp(EvaluationMemoryBytes / 16, 1L << 12, Metrics.CurveWalk.DefaultRunLength);
    /// <summary>training.checkpoint_dir, or null (beside the output folder); only for trained models.</summary>
    public string? CheckpointDir { get; init; }
    /// <summary>training.monitor, or null for a model that does not train.</summary>
    public string? Monitor { get; init; }
    /// <summary>True when the configuration has a training section (a model trained epoch by epoch).</summary>
    public required bool Trains { get; init; }

    /// <summary>Reads and checks the engine's keys.</summary>
    /// <exception cref="AnomalySharpException">A key is missing, out of range, or not one of its choices.</exception>
    public static EngineOptions From(ConfigTree config)
    {
        var (height, width) = Configuration.WorkingSize.Read(config);
        var options = new EngineOptions
        {
            ModelName = config.GetString("model.name"),
            Backbone = config.Has("model.backbone") ? config.GetString("model.backbone") : null,
            Seed = config.GetInt("seed"),
            ImageHeight = height,
            ImageWidth = width,
            BatchSize = config.GetInt("data.batch_size", 1, 1024),
            SkipBadImages = config.GetBool("data.skip_bad_images"),
            Threads = RunSettings.Threads(config),
            Validation = config.GetEnum<ValidationSource>("postprocessing.validation"),
            ValidationFraction = config.GetDouble("postprocessing.validation_fraction", 0.05, 0.95),
            ImageThreshold = config.GetDoubleOrNull("postprocessing.image_threshold"),
            PixelThreshold = config.GetDoubleOrNull("postprocessing.pixel_threshold"),
            SaveImages = config.GetBool("visualization.save_images"),
            // Models saved before the key existed keep the default.
            EvaluationMemoryBytes = (config.Has("runtime.evaluation_memory_mb") ? config.GetInt("runtime.evaluation_memory_mb", 0,
                1 << 20) : 1024) * (1L << 20),
            Trains = config.Has("training"),
            // Configurations saved before these keys existed keep the defaults.
            ThresholdMethod = config.Has("postprocessing.threshold")
                ? config.GetEnum<ThresholdMethod>("postprocessing.threshold") : ThresholdMethod.Auto,
            FalseAlarmRate = config.Has("postprocessing.false_alarm_rate") ? config.GetDouble("postprocessing.false_alarm_rate", 1e-6,
                0.5) : 0.01,
            PixelFalseAlarmRate = config.Has("postprocessing.pixel_false_alarm_rate")
                ? config.GetDouble("postprocessing.pixel_false_alarm_rate", 1e-9, 0.5) : 0.01,
            NormalValidationFraction = config.Has("data.normal_validation_fraction")
                ? config.GetDouble("data.normal_validation_fraction", 0.01, 0.9) : 0.2,
            CheckpointDir = config.Has("training.checkpoint_dir") ? config.GetStringOrNull("training.checkpoint_dir") : null,
            Monitor = config.Has("training.monitor") ? config.GetString("training.monitor") : null,
        };
        // Checked here, before any image is read.
        Tiling.TileGrid.IsEnsemble(config);
        if (Tiling.TileGrid.From(config) is null && height != width)
            throw new AnomalySharpException($"config key 'data.image_size': a [height, width] working size needs data.tiling (the "
                + $"models work on square tiles of it)");
        if (options.Validation == ValidationSource.None && (options.ImageThreshold is null || options.PixelThreshold is null))
            throw new AnomalySharpException("postprocessing.validation=none needs postprocessing.image_threshold and "
                + "postprocessing.pixel_threshold (raw values)");
        return options;
    }
}
