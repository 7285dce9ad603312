using Onnx;

namespace AnomalySharp.Graphs;

/// <summary>Reads float initializers of an ONNX graph.</summary>
internal static class OnnxTensors
{
    public static float[] ToFloats(TensorProto t)
    {
        if (t.DataType != (int)TensorProto.Types.DataType.Float)
            throw new InvalidDataException($"initializer {t.Name} is not float32");
        if (t.FloatData.Count > 0) return t.FloatData.ToArray();
        var raw = t.RawData.Span;
        var result = new float[raw.Length / 4];
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(raw).CopyTo(result);
        return result;
    }

    public static long[] Shape(TensorProto t) => t.Dims.ToArray();
}
