namespace AnomalySharp.Runtime;

/// <summary>Decoded pixels: RGBA, 8 bits per channel, row-major, unpremultiplied.</summary>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="Rgba">Width·Height·4 bytes (a pooled buffer may be longer).</param>
public sealed record DecodedImage(int Width, int Height, byte[] Rgba) : IDisposable
{
    readonly int _sourceWidth, _sourceHeight;

    /// <summary>Width declared by the file (larger than <see cref="Width"/> when decoded at a reduced scale).</summary>
    public int SourceWidth { get => _sourceWidth > 0 ? _sourceWidth : Width; init => _sourceWidth = value; }
    /// <summary>Height declared by the file.</summary>
    public int SourceHeight { get => _sourceHeight > 0 ? _sourceHeight : Height; init => _sourceHeight = value; }

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
