namespace AnomalySharp.Engine;

/// <summary>Where thresholds and normalization come from (postprocessing.validation).</summary>
public enum ValidationSource
{
    /// <summary>The test images themselves (anomalib's default; optimistic).</summary>
    Test,
    /// <summary>A seeded share of the test images, held out of the metrics.</summary>
    Holdout,
    /// <summary>None: postprocessing.image_threshold and pixel_threshold are given.</summary>
    None,
}
