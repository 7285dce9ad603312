using System.Numerics.Tensors;
using AnomalySharp.Runtime;

namespace AnomalySharp.PostProcessing;

/// <summary>
/// Maps raw values to 0..1 with the threshold at 0.5: clamp((x − t)/(max − min) + 0.5, 0, 1), in float32. The
/// exported graph's tail (<see cref="AppendOnnx"/>) and the library's arithmetic (<see cref="Normalize(ReadOnlySpan{float}, Span{float},
/// double, double, double)"/>)
/// are the same IEEE float32 operations in the same order (subtract, divide, add, clamp), so they give the same bits.
/// </summary>
public static class MinMaxNormalizer
{
    /// <summary>The constants as float32: (threshold, range); a constant validation set (range 0) keeps values centred on the
    /// threshold.</summary>
    static (float Threshold, float Range) Constants(double threshold, double min, double max)
    {
        double range = max - min;
        if (!(range > 0)) range = 1;
        return ((float)threshold, (float)range);
    }

    /// <summary>Normalizes <paramref name="raw"/> into <paramref name="destination"/> (may be the same memory).</summary>
    public static void Normalize(ReadOnlySpan<float> raw, Span<float> destination, double threshold, double min, double max)
    {
        var (t, r) = Constants(threshold, min, max);
        TensorPrimitives.Subtract(raw, t, destination);
        TensorPrimitives.Divide(destination, r, destination);
        TensorPrimitives.Add(destination, 0.5f, destination);
        TensorPrimitives.Max(destination, 0f, destination);
        TensorPrimitives.Min(destination, 1f, destination);
    }

    /// <summary>Normalized copies of <paramref name="raw"/>.</summary>
    public static float[] Normalize(ReadOnlySpan<float> raw, double threshold, double min, double max)
    {
        var result = new float[raw.Length];
        Normalize(raw, result, threshold, min, max);
        return result;
    }

    /// <summary>Normalizes one value (float32, as the graph does).</summary>
    public static double Normalize(double raw, double threshold, double min, double max)
    {
        var (t, r) = Constants(threshold, min, max);
        return Math.Clamp(((float)raw - t) / r + 0.5f, 0f, 1f);
    }

    /// <summary>Normalized image scores.</summary>
    public static float[] NormalizeScores(ReadOnlySpan<float> raw, NormalizationStats s) => Normalize(raw, s.ImageThreshold, s.ImageMin,
        s.ImageMax);

    /// <summary>Normalized anomaly maps.</summary>
    public static float[] NormalizeMaps(ReadOnlySpan<float> raw, NormalizationStats s) => Normalize(raw, s.PixelThreshold, s.PixelMin,
        s.PixelMax);

    /// <summary>Appends the same normalization to a graph: the exported model's tail.</summary>
    public static string AppendOnnx(OnnxGraph g, string x, double threshold, double min, double max)
    {
        var (t, r) = Constants(threshold, min, max);
        string y = g.Node("Div", new[] { g.Node("Sub", new[] { x, g.Scalar(t) }), g.Scalar(r) });
        return g.Node("Clip", new[] { g.Node("Add", new[] { y, g.Scalar(0.5f) }), g.Scalar(0f), g.Scalar(1f) });
    }
}
