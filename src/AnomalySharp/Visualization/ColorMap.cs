using static TorchSharp.torch;

namespace AnomalySharp.Visualization;

/// <summary>Colouring of 0..1 maps.</summary>
public static class ColorMap
{
    /// <summary>The "jet" colour map: [1,H,W] or [H,W] values in 0..1 → RGB [3,H,W] in 0..1.</summary>
    public static Tensor Jet(Tensor values)
    {
        using var scope = NewDisposeScope();
        var v = values.reshape(1, values.shape[^2], values.shape[^1]).clamp(0, 1);
        Tensor Channel(double centre) => (1.5 - (4 * v - centre).abs()).clamp(0, 1);
        return cat(new[] { Channel(3), Channel(2), Channel(1) }, 0).MoveToOuterDisposeScope();
    }

    /// <summary>Pixels on the inside edge of a 0/1 mask [1,H,W] (mask minus its 3×3 erosion).</summary>
    public static Tensor Outline(Tensor mask)
    {
        using var scope = NewDisposeScope();
        var m = mask.reshape(1, 1, mask.shape[^2], mask.shape[^1]).to_type(ScalarType.Float32);
        var eroded = 1 - nn.functional.max_pool2d(1 - m, kernel_size: 3, stride: 1, padding: 1);
        return (m - eroded).clamp(0, 1).reshape(1, mask.shape[^2], mask.shape[^1]).MoveToOuterDisposeScope();
    }
}
