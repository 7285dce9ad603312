using AnomalySharp.Data;
using static TorchSharp.torch;

namespace AnomalySharp.Visualization;

/// <summary>
/// Draws one test result as four panels side by side: the image, its ground-truth mask, the heat map over the
/// image, and the image with the predicted region outlined in red (the true region in green).
/// </summary>
public static class SampleRenderer
{
    /// <summary>Renders to RGB [3,S,4S] in 0..1.</summary>
    /// <param name="image">uint8 or float image [3,S,S] (float in 0..1).</param>
    /// <param name="normalizedMap">Normalized anomaly map [1,S,S], threshold at 0.5.</param>
    /// <param name="mask">Ground truth [1,S,S] of 0/1, or null.</param>
    public static Tensor Render(Tensor image, Tensor normalizedMap, Tensor? mask) => Panels(image, normalizedMap, mask, asBytes: false);

    /// <summary>
    /// As <see cref="Render"/>, as uint8 RGB [3,S,4S] (each value rounded from 0..1 to 0..255). Each panel is made and
    /// turned into bytes before the next, so at a 2048² working size the float temporaries of one panel (hundreds of MB)
    /// are alive at a time, not those of all four.
    /// </summary>
    public static Tensor RenderBytes(Tensor image, Tensor normalizedMap, Tensor? mask) => Panels(image, normalizedMap, mask, asBytes: true);

    static Tensor Panels(Tensor image, Tensor normalizedMap, Tensor? mask, bool asBytes)
    {
        using var scope = NewDisposeScope();
        var img = image.dtype == ScalarType.Byte ? image.to_type(ScalarType.Float32) / 255f : image.to_type(ScalarType.Float32);
        long h = img.shape[1], w = img.shape[2];
        Tensor Done(Func<Tensor> make)
        {
            if (!asBytes) return make();
            using var inner = NewDisposeScope();
            return make().clamp(0f, 1f).mul(255f).round().to_type(ScalarType.Byte).MoveToOuterDisposeScope();
        }
        var gap = Done(() => ones(3, h, 4));
        var panels = new[]
        {
            Done(() => img), gap,
            Done(() => mask is null ? full(new long[] { 3, h, w }, 0.15f) : mask.to_type(ScalarType.Float32).expand(3, h, w)), gap,
            Done(() => HeatOverlay(img, normalizedMap)), gap,
            Done(() =>
            {
                var outlined = img.clone();
                if (mask is not null) outlined = Paint(outlined, ColorMap.Outline(mask.to_type(ScalarType.Float32)), 0f, 1f, 0f);
                return Paint(outlined, ColorMap.Outline(normalizedMap.ge(0.5).to_type(ScalarType.Float32)), 1f, 0f, 0f);
            }),
        };
        return cat(panels, 2).MoveToOuterDisposeScope();
    }

    /// <summary>The heat map blended half and half over an RGB float image [3,S,S] (0..1).</summary>
    public static Tensor HeatOverlay(Tensor image, Tensor normalizedMap) => image * 0.5f + ColorMap.Jet(normalizedMap) * 0.5f;

    static Tensor Paint(Tensor rgb, Tensor where, float r, float g, float b)
    {
        var colour = tensor(new[] { r, g, b }).view(3, 1, 1);
        return rgb * (1 - where) + colour * where;
    }

    /// <summary>Renders and writes a PNG.</summary>
    public static void Save(string path, Tensor image, Tensor normalizedMap, Tensor? mask)
    {
        using var panels = RenderBytes(image, normalizedMap, mask);
        ImageIO.SavePng(path, panels);
    }
}
