using AnomalySharp.Runtime;
using static TorchSharp.torch;

namespace AnomalySharp.Graphs;

/// <summary>TorchSharp tensors as constants of an <see cref="OnnxGraph"/>.</summary>
public static class OnnxGraphTensors
{
    /// <summary>A float32 constant copied from a tensor (any dtype), keeping its shape.</summary>
    public static string Constant(this OnnxGraph g, string hint, Tensor t)
    {
        using var scope = NewDisposeScope();
        var f = t.to_type(ScalarType.Float32).contiguous();
        return g.Constant(hint, f.data<float>().ToArray(), f.shape);
    }
}
