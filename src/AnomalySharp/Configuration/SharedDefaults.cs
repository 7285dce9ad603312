namespace AnomalySharp.Configuration;

/// <summary>The sections every model's configuration shares, with anomalib-like defaults.</summary>
internal static class SharedDefaults
{
    /// <summary>YAML text of the shared sections (they follow the seed and a model's own section).</summary>
    public const string Yaml = """
        data:
          image_size: 256
          batch_size: 16
          skip_bad_images: false
          tiling:
            tile_size: 0      # 0: off; else the model sees tiles of this size cut from the image_size image
            stride: 0         # 0: the tile size (tiles side by side); smaller: overlapping tiles, blended
            ensemble: false   # true: one model per tile position (aligned objects), each position standardized by its own training tiles
          normal_validation_fraction: 0.2   # false_alarm_rate: the seeded share of normal training images held out to calibrate
        postprocessing:
          # How the thresholds are chosen:
          #   auto             - false_alarm_rate when the data has no defective images, else f1
          #   false_alarm_rate - from held-out good images only: at most false_alarm_rate of good images flagged (split conformal)
          #   f1               - the threshold that maximizes F1 on images with defects (needs them)
          threshold: auto
          false_alarm_rate: 0.01        # image level: the guaranteed bound on the expected share of good images flagged
          pixel_false_alarm_rate: 0.01  # pixel level: the share of good pixels above the pixel threshold
          # Where the F1-adaptive thresholds and min-max statistics come from:
          #   test    - the test set itself (anomalib's default)
          #   holdout - a seeded fraction of the test set, which is then left out of the reported metrics
          #   none    - the raw thresholds given below
          validation: test
          validation_fraction: 0.3
          image_threshold: null
          pixel_threshold: null
        visualization:
          save_images: true
        runtime:
          threads: 0
          evaluation_memory_mb: 1024   # maps, masks and pictures of a larger evaluation go to temporary files (TMPDIR)

        """;
}
