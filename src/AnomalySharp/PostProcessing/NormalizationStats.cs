namespace AnomalySharp.PostProcessing;

/// <summary>
/// Raw thresholds and min/max statistics, chosen on validation data. With them, scores and maps are
/// min-max normalized so that the threshold lands at 0.5 (anomalib's convention).
/// </summary>
/// <param name="ImageThreshold">Raw image-score threshold.</param>
/// <param name="PixelThreshold">Raw pixel threshold.</param>
/// <param name="ImageMin">Smallest raw image score seen on validation data.</param>
/// <param name="ImageMax">Largest raw image score seen on validation data.</param>
/// <param name="PixelMin">Smallest raw pixel value seen on validation data.</param>
/// <param name="PixelMax">Largest raw pixel value seen on validation data.</param>
public sealed record NormalizationStats(double ImageThreshold, double PixelThreshold, double ImageMin, double ImageMax, double PixelMin,
    double PixelMax);
