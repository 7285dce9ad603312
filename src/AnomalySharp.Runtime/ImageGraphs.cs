using Google.Protobuf;
using Onnx;

namespace AnomalySharp.Runtime;

/// <summary>
/// The runtime's pixel work as small ONNX graphs run by ONNX Runtime (no per-pixel C# loops): RGBA bytes to the
/// model input (antialiased bilinear resize, as the training side does), and a normalized map to a full-size binary
/// mask and a heat-map overlay.
/// </summary>
internal static class ImageGraphs
{
    /// <summary>rgba uint8 [H,W,4] → input float [1,3,h,w] (the model's size), RGB 0..1 (opset 18: Resize with antialias).</summary>
    public static byte[] Preprocess(int height, int width)
    {
        var g = new OnnxGraph();
        g.Input("rgba", TensorProto.Types.DataType.Uint8, "height", "width", 4);
        string x = g.Node("Cast", new[] { "rgba" }, OnnxGraph.Attr("to", (long)TensorProto.Types.DataType.Float));
        x = g.Node("Slice", new[] { x, g.Ints(0), g.Ints(3), g.Ints(2) });
        x = g.Node("Unsqueeze", new[] { g.Node("Transpose", new[] { x }, OnnxGraph.Attrs("perm", 2L, 0L, 1L)), g.Ints(0) });
        x = g.Node("Div", new[] { x, g.Scalar(255f) });
        x = g.Node("Resize", new[] { x, "", "", g.Ints(1, 3, height, width) }, OnnxGraph.Attr("mode", "linear"),
            OnnxGraph.Attr("coordinate_transformation_mode", "half_pixel"), OnnxGraph.Attr("antialias", 1L));
        x = g.Node("Clip", new[] { x, g.Scalar(0f), g.Scalar(1f) });
        g.Rename(x, "input");
        g.Output("input", 1, 3, height, width);
        return g.ToModel(new Dictionary<string, string>(), "AnomalySharp preprocessing", opset: 18).ToByteArray();
    }

    /// <summary>
    /// map float [1,1,h,w] (normalized, the model's size), input float [1,3,h,w], sizes int64 [4] = [1,1,H,W] →
    /// mask uint8 [H,W] (255 where the map upsampled to H×W is ≥ 0.5) and overlay uint8 [h,w,4] (RGBA: half image,
    /// half jet colour map of the map).
    /// </summary>
    public static byte[] Postprocess(int height, int width)
    {
        var g = new OnnxGraph();
        g.Input("map", 1, 1, height, width);
        g.Input("input", 1, 3, height, width);
        g.Input("sizes", TensorProto.Types.DataType.Int64, 4);
        string full = g.Node("Resize", new[] { "map", "", "", "sizes" }, OnnxGraph.Attr("mode", "linear"),
            OnnxGraph.Attr("coordinate_transformation_mode", "pytorch_half_pixel"));
        string mask = g.Node("Cast", new[] { g.Node("GreaterOrEqual", new[] { full, g.Scalar(0.5f) }) }, OnnxGraph.Attr("to",
            (long)TensorProto.Types.DataType.Uint8));
        mask = g.Node("Reshape", new[] { g.Node("Mul", new[] { mask, g.AddInitializer("u8_255", TensorProto.Types.DataType.Uint8,
            new byte[] { 255 }) }),
            g.Node("Slice", new[] { "sizes", g.Ints(2), g.Ints(4) }) });
        g.Rename(mask, "mask");
        g.Output("mask", TensorProto.Types.DataType.Uint8, "height", "width");

        string v = g.Node("Clip", new[] { "map", g.Scalar(0f), g.Scalar(1f) });
        string four = g.Node("Mul", new[] { v, g.Scalar(4f) });
        string Channel(float centre) => g.Node("Clip", new[] { g.Node("Sub", new[] { g.Scalar(1.5f), g.Node("Abs", new[] { g.Node("Sub",
            new[] { four, g.Scalar(centre) }) }) }), g.Scalar(0f), g.Scalar(1f) });
        string jet = g.Node("Concat", new[] { Channel(3), Channel(2), Channel(1) }, OnnxGraph.Attr("axis", 1L));
        string blend = g.Node("Add", new[] { g.Node("Mul", new[] { "input", g.Scalar(0.5f) }), g.Node("Mul", new[] { jet,
            g.Scalar(0.5f) }) });
        string bytes = g.Node("Cast", new[] { g.Node("Round", new[] { g.Node("Mul", new[] { g.Node("Clip", new[] { blend, g.Scalar(0f),
            g.Scalar(1f) }), g.Scalar(255f) }) }) },
            OnnxGraph.Attr("to", (long)TensorProto.Types.DataType.Uint8));
        string hwc = g.Node("Reshape", new[] { g.Node("Transpose", new[] { bytes }, OnnxGraph.Attrs("perm", 0L, 2L, 3L, 1L)),
            g.Ints(height, width, 3) });
        string rgba = g.Node("Pad", new[] { hwc, g.Ints(0, 0, 0, 0, 0, 1), g.AddInitializer("u8_alpha",
            TensorProto.Types.DataType.Uint8, new byte[] { 255 }) });
        g.Rename(rgba, "overlay");
        g.Output("overlay", TensorProto.Types.DataType.Uint8, height, width, 4);
        return g.ToModel(new Dictionary<string, string>(), "AnomalySharp post-processing").ToByteArray();
    }
}
