using System.Globalization;

namespace AnomalySharp.Configuration;

/// <summary>
/// data.image_size: the size every image is resized to, one number for a square (256) or [height, width] for a
/// rectangle ([512, 2048]). Models work on squares; a rectangular working size needs data.tiling, whose square tiles
/// the model sees.
/// </summary>
internal static class WorkingSize
{
    /// <summary>The config key.</summary>
    public const string Key = "data.image_size";
    /// <summary>Smallest side.</summary>
    public const int Min = 32;
    /// <summary>Largest side.</summary>
    public const int Max = 4096;

    /// <summary>(height, width) of the working size.</summary>
    /// <exception cref="AnomalySharpException">Not a number or a pair of numbers in [32, 4096].</exception>
    public static (int Height, int Width) Read(ConfigTree config)
    {
        var values = config.GetStringList(Key);
        if (values.Count is not (1 or 2))
            throw new AnomalySharpException($"config key '{Key}': expected one side (256) or [height, width] ([512, 2048]), got "
                + $"{values.Count} values");
        var sides = values.Select(v => int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int s) ? s
            : throw new AnomalySharpException($"config key '{Key}': expected an integer, got '{v}'")).ToArray();
        foreach (int s in sides)
            if (s is < Min or > Max) throw new AnomalySharpException($"config key '{Key}': {s} is out of range [{Min}, {Max}]");
        return (sides[0], sides[^1]);
    }

    /// <summary>data.tiling.tile_size: the side of the square tiles, or 0 for no tiling (also when the key is missing or
    /// empty, as in model files written before tiling existed).</summary>
    /// <exception cref="AnomalySharpException">Not an integer in [0, 4096].</exception>
    public static int TileSize(ConfigTree config) =>
        config.Has("data.tiling.tile_size") && config.GetStringOrNull("data.tiling.tile_size") is not null
            ? config.GetInt("data.tiling.tile_size", 0, Max) : 0;

    /// <summary>"256" for a square, "512x2048" (height x width) otherwise.</summary>
    public static string Describe(int height, int width) =>
        height == width ? height.ToString(CultureInfo.InvariantCulture) : string.Create(CultureInfo.InvariantCulture, $"{height}x{width}");
}
