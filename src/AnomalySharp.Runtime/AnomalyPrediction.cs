namespace AnomalySharp.Runtime;

/// <summary>One image's result from an exported model.</summary>
/// <param name="Score">Normalized image score, 0..1; anomalous at ≥ <see cref="Threshold"/>.</param>
/// <param name="IsAnomalous">Score ≥ threshold.</param>
/// <param name="Threshold">The decision threshold on the normalized score (0.5).</param>
/// <param name="Map">Normalized anomaly map, <see cref="MapSize"/>² values, row-major.</param>
/// <param name="MapSize">Side of the map (the model's image size).</param>
/// <param name="Width">Original image width.</param>
/// <param name="Height">Original image height.</param>
/// <param name="MaskPng">Binary mask at the original size as a grayscale PNG, if asked for.</param>
/// <param name="OverlayPng">Heat map over the resized image as an RGBA PNG, if asked for.</param>
public sealed record AnomalyPrediction(float Score, bool IsAnomalous, double Threshold, float[] Map, int MapSize, int Width, int Height,
    byte[]? MaskPng, byte[]? OverlayPng);
