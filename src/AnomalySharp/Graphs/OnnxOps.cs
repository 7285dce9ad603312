using AnomalySharp.Runtime;
namespace AnomalySharp.Graphs;

/// <summary>Multi-node building blocks shared by exported models (resizing, normalization, reductions).</summary>
public static class OnnxOps
{
    /// <summary>
    /// Resizes [N,C,h,w] to [N,C,<paramref name="height"/>,<paramref name="width"/>] with PyTorch's semantics:
    /// bilinear with align_corners=false, or nearest (floor of the asymmetric source coordinate).
    /// </summary>
    public static string Resize(this OnnxGraph g, string x, long height, long width, bool bilinear)
    {
        string nc = g.Node("Slice", new[] { g.Node("Shape", new[] { x }), g.Ints(0), g.Ints(2) });
        string sizes = g.Node("Concat", new[] { nc, g.Ints(height, width) }, OnnxGraph.Attr("axis", 0L));
        return bilinear
            ? g.Node("Resize", new[] { x, "", "", sizes }, OnnxGraph.Attr("mode", "linear"),
                OnnxGraph.Attr("coordinate_transformation_mode", "pytorch_half_pixel"))
            : g.Node("Resize", new[] { x, "", "", sizes }, OnnxGraph.Attr("mode", "nearest"),
                OnnxGraph.Attr("coordinate_transformation_mode", "asymmetric"), OnnxGraph.Attr("nearest_mode", "floor"));
    }

    /// <summary>Maximum over the given axes, dropping them.</summary>
    public static string ReduceMax(this OnnxGraph g, string x, params long[] axes) =>
        g.Node("ReduceMax", new[] { x }, OnnxGraph.Attrs("axes", axes), OnnxGraph.Attr("keepdims", 0L));

    /// <summary>Sum of squares over the last axis, keeping it (length 1).</summary>
    public static string SumSquaresLast(this OnnxGraph g, string x) =>
        g.Node("ReduceSumSquare", new[] { x }, OnnxGraph.Attrs("axes", -1L), OnnxGraph.Attr("keepdims", 1L));

    /// <summary>sqrt(max(x, 0)).</summary>
    public static string SafeSqrt(this OnnxGraph g, string x) => g.Node("Sqrt", new[] { g.Node("Max", new[] { x, g.Scalar(0f) }) });
}
