namespace AnomalySharp.Runtime;

/// <summary>Decoded pixels: RGBA, 8 bits per channel, row-major, unpremultiplied.</summary>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="Rgba">Width·Height·4 bytes (a pooled buffer may be longer).</param>
public sealed record DecodedImage(int Width, int Height, byte[] Rgba) : IDisposable
{
    /// <summary>True when <see cref="Rgba"/> was rented from the shared array pool and goes back on dispose.</summary>
    public bool Pooled { get; init; }

    /// <summary>The pixel bytes (without any pool slack).</summary>
    public ReadOnlySpan<byte> Pixels => Rgba.AsSpan(0, Width * Height * 4);

    /// <summary>Returns a pooled buffer.</summary>
    public void Dispose()
    {
        if (Pooled) System.Buffers.ArrayPool<byte>.Shared.Return(Rgba);
    }
}
