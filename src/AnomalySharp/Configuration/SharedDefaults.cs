namespace AnomalySharp.Configuration;

/// <summary>The sections every model's configuration shares, with anomalib-like defaults.</summary>
public static class SharedDefaults
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
        postprocessing:
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
