using System.Globalization;
using System.Text;
using Google.Protobuf;
using Onnx;

namespace AnomalySharp.Export;

/// <summary>
/// Writes a Triton Inference Server model repository for an exported model: <c>NAME/config.pbtxt</c> (ONNX Runtime
/// backend, the graph's real input/output names and shapes, dynamic batching) and <c>NAME/1/model.onnx</c>.
/// </summary>
public static class TritonRepository
{
    /// <summary>The config.pbtxt text for a model exported by <see cref="OnnxExporter"/>.</summary>
    public static string Config(ModelProto model, string name, int maxBatchSize)
    {
        var g = model.Graph;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"name: \"{name}\"\nplatform: \"onnxruntime_onnx\"\nmax_batch_size: {maxBatchSize}\n");
        sb.Append("input [\n");
        sb.Append(string.Join(",\n", g.Input.Select(Tensor)));
        sb.Append("\n]\noutput [\n");
        sb.Append(string.Join(",\n", g.Output.Select(Tensor)));
        sb.Append("\n]\n");
        sb.Append(maxBatchSize > 1
            ? FormattableString.Invariant($"dynamic_batching {{\n  preferred_batch_size: [ {Math.Max(1, maxBatchSize / 2)}, ")
                + FormattableString.Invariant($"{maxBatchSize} ]\n  max_queue_delay_microseconds: 2000\n}}\n")
            : "dynamic_batching { }\n");
        sb.Append("instance_group [\n  {\n    count: 1\n    kind: KIND_CPU\n  }\n]\n");
        foreach (var p in model.MetadataProps.Where(p => p.Key.StartsWith("anomalysharp.", StringComparison.Ordinal)))
            sb.Append(CultureInfo.InvariantCulture,
                $"parameters {{\n  key: \"{p.Key}\"\n  value: {{ string_value: "
                    + $"\"{p.Value.Replace("\"", "'", StringComparison.Ordinal)}\" }}\n}}\n");
        return sb.ToString();
    }

    /// <summary>
    /// One input/output entry; the batch dimension is Triton's own, so it is left out of dims. A per-batch-item
    /// scalar (the score [N]) is declared dims [ 1 ] with an empty reshape, Triton's idiom for it.
    /// </summary>
    static string Tensor(ValueInfoProto v)
    {
        var dims = v.Type.TensorType.Shape.Dim.Skip(1).Select(d
            => d.DimParam is { Length: > 0 } ? "-1" : d.DimValue.ToString(CultureInfo.InvariantCulture)).ToList();
        string type = v.Type.TensorType.ElemType == (int)TensorProto.Types.DataType.Float
            ? "TYPE_FP32" : throw new AnomalySharpException($"triton: unsupported element type of {v.Name}");
        string shape = dims.Count == 0 ? "dims: [ 1 ]\n    reshape: { shape: [ ] }" : $"dims: [ {string.Join(", ", dims)} ]";
        return $"  {{\n    name: \"{v.Name}\"\n    data_type: {type}\n    {shape}\n  }}";
    }

    /// <summary>Writes NAME/config.pbtxt and NAME/1/model.onnx under <paramref name="repository"/> (a new or staged folder).</summary>
    public static void Write(ModelProto model, string repository, string name, int maxBatchSize = 16)
    {
        // A model that should run one image at a time (anomalysharp.max_batch) gets that limit in Triton too.
        if (model.MetadataProps.FirstOrDefault(p => p.Key == "anomalysharp.max_batch") is { } limit
            && int.TryParse(limit.Value, CultureInfo.InvariantCulture, out int m) && m > 0) maxBatchSize = Math.Min(maxBatchSize, m);
        string dir = Path.Combine(repository, name);
        Directory.CreateDirectory(Path.Combine(dir, "1"));
        OnnxExporter.Seal(model);
        using (var file = IO.LargeFile.Create(Path.Combine(dir, "1", "model.onnx"))) model.WriteTo(file);
        File.WriteAllText(Path.Combine(dir, "config.pbtxt"), Config(model, name, maxBatchSize));
    }
}
