namespace AnomalySharp.Data;

/// <summary>Pixels of one decoded image: RGBA, 8 bits a channel, row-major, unpremultiplied.</summary>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="Rgba">Width × Height × 4 bytes.</param>
public sealed record DecodedImage(int Width, int Height, byte[] Rgba);
