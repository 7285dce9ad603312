using AnomalySharp.Components;
using static TorchSharp.torch;

namespace AnomalySharp.PostProcessing;

/// <summary>Maps raw values to 0..1 with the threshold at 0.5: clamp((x − t)/(max − min) + 0.5, 0, 1).</summary>
public static class MinMaxNormalizer
{
    /// <summary>Normalizes a tensor (new tensor).</summary>
    public static Tensor Normalize(Tensor raw, double threshold, double min, double max)
    {
        double range = max - min;
        if (!(range > 0)) range = 1; // a constant validation set: keep values centred on the threshold
        using var scope = NewDisposeScope();
        return SafeOps.AddInPlace((raw - threshold).div_(range), 0.5).clamp_(0, 1).MoveToOuterDisposeScope();
    }

    /// <summary>Normalizes one value.</summary>
    public static double Normalize(double raw, double threshold, double min, double max)
    {
        double range = max - min;
        if (!(range > 0)) range = 1;
        return Math.Clamp((raw - threshold) / range + 0.5, 0, 1);
    }

    /// <summary>Normalized image scores.</summary>
    public static Tensor NormalizeScores(Tensor raw, NormalizationStats s) => Normalize(raw, s.ImageThreshold, s.ImageMin, s.ImageMax);

    /// <summary>Normalized anomaly maps.</summary>
    public static Tensor NormalizeMaps(Tensor raw, NormalizationStats s) => Normalize(raw, s.PixelThreshold, s.PixelMin, s.PixelMax);
}
