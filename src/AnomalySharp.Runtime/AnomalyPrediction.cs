namespace AnomalySharp.Runtime;

/// <summary>One image's result from an exported model.</summary>
/// <param name="Score">Normalized image score, 0..1; anomalous at ≥ <see cref="Threshold"/>.</param>
/// <param name="IsAnomalous">Score ≥ threshold.</param>
/// <param name="Threshold">The decision threshold on the normalized score (0.5).</param>
/// <param name="Map">Normalized anomaly map, <see cref="MapHeight"/> × <see cref="MapWidth"/> values, row-major.</param>
/// <param name="MapSize">Side of the map (the model's image size); the larger side for a model with a rectangular
/// working size (see <see cref="MapHeight"/> and <see cref="MapWidth"/>).</param>
/// <param name="Width">Width of the decoded image: the original's, or its reduced-scale decode for a JPEG or WebP of 8·S
/// pixels or more a side (see <see cref="ImageDecoder"/>).</param>
/// <param name="Height">Height of the decoded image.</param>
/// <param name="MaskPng">Binary mask at the decoded size (<paramref name="Width"/>×<paramref name="Height"/>) as a grayscale PNG, if asked
/// for.</param>
/// <param name="OverlayPng">Heat map over the resized image as an RGBA PNG, if asked for.</param>
public sealed record AnomalyPrediction(float Score, bool IsAnomalous, double Threshold, float[] Map, int MapSize, int Width, int Height,
    byte[]? MaskPng, byte[]? OverlayPng)
{
    /// <summary>Width the image file declares.</summary>
    public int SourceWidth { get; init; } = Width;
    /// <summary>Height the image file declares.</summary>
    public int SourceHeight { get; init; } = Height;
    /// <summary>Rows of <see cref="Map"/> (the model's working height).</summary>
    public int MapHeight { get; init; } = MapSize;
    /// <summary>Columns of <see cref="Map"/> (the model's working width).</summary>
    public int MapWidth { get; init; } = MapSize;
}
