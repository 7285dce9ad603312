using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace AnomalySharp.Components;

/// <summary>The memory of a contiguous float32 CPU tensor as a span, for copies to and from ONNX Runtime without a managed array in
/// between.</summary>
internal static class TensorSpan
{
    /// <summary>The tensor's elements; valid while the tensor lives.</summary>
    public static Span<float> Floats(Tensor t)
    {
        if (t.dtype != ScalarType.Float32 || !t.is_contiguous() || t.device_type != TorchSharp.DeviceType.CPU)
            throw new ArgumentException("needs a contiguous float32 CPU tensor", nameof(t));
        return MemoryMarshal.Cast<byte, float>(t.bytes);
    }

    /// <summary>The address of the tensor's first element (native memory, which does not move); valid while the tensor lives.</summary>
    public static unsafe IntPtr Address(Tensor t)
    {
        fixed (float* p = Floats(t)) return (IntPtr)p;
    }
}
