namespace AnomalySharp.Data;

/// <summary>Pixels of one decoded image: RGBA, 8 bits a channel, row-major, unpremultiplied.</summary>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="Rgba">Width × Height × 4 bytes (a pooled buffer may be longer; only that many bytes count).</param>
public sealed record DecodedImage(int Width, int Height, byte[] Rgba) : IDisposable
{
    internal bool Pooled { get; init; }

    /// <summary>The pixel bytes.</summary>
    public ReadOnlySpan<byte> Pixels => Rgba.AsSpan(0, Width * Height * 4);

    /// <summary>Returns a pooled buffer (the batcher's); does nothing for an ordinary one.</summary>
    public void Dispose()
    {
        if (Pooled) System.Buffers.ArrayPool<byte>.Shared.Return(Rgba);
    }
}
