namespace AnomalySharp.Data;

/// <summary>What the built-in synthetic dataset paints (`--synthetic texture|object`).</summary>
public enum SyntheticKind
{
    /// <summary>A textured surface filling the image.</summary>
    Texture,
    /// <summary>A textured object on a dark background.</summary>
    Object,
}
