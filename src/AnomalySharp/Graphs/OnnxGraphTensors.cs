using AnomalySharp.Runtime;
using static TorchSharp.torch;

namespace AnomalySharp.Graphs;

/// <summary>TorchSharp tensors as constants of an <see cref="OnnxGraph"/>.</summary>
public static class OnnxGraphTensors
{
    /// <summary>
    /// A float32 constant copied from a tensor (any dtype), keeping its shape: straight from the tensor's memory into the
    /// graph (a managed array in between cost a large network's graph a second copy of its weights and its page faults).
    /// </summary>
    public static string Constant(this OnnxGraph g, string hint, Tensor t)
    {
        using var scope = NewDisposeScope();
        var f = t.to_type(ScalarType.Float32).cpu().contiguous();
        return g.Constant(hint, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(f.bytes), f.shape);
    }
}
