using System.Text.Json;
using AnomalySharp.Runtime;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace AnomalySharp.Bench;

/// <summary>
/// The multiply-accumulates one image costs in an exported graph, counted from the shapes ONNX Runtime reports for
/// every node it ran (its profiler, graph optimizations off so the nodes are the file's own), so the count holds for
/// any model, data-dependent shapes included. Convolutions and matrix products count; a convolution or product whose
/// weights come through DequantizeLinear (the INT8 export's QDQ form, which ONNX Runtime fuses into integer kernels)
/// counts as integer work.
/// </summary>
internal static class GraphCost
{
    /// <summary>(float32 GMAC, integer GMAC) of one image at batch 1.</summary>
    public static (double Float, double Integer) PerImage(string onnxPath, int threads)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(onnxPath));
        var dequantized = model.Graph.Node.Where(n => n.OpType == "DequantizeLinear").Select(n => n.Output[0]).ToHashSet();
        var integerNodes = model.Graph.Node
            .Where(n => n.OpType is "Conv" or "MatMul" or "Gemm" && n.Input.Count > 1 && dequantized.Contains(n.Input[1]))
            .Select(n => n.Name).ToHashSet();
        int size = int.Parse(model.MetadataProps.First(p => p.Key == "anomalysharp.image_size").Value,
            System.Globalization.CultureInfo.InvariantCulture);
        string prefix = Path.Combine(Path.GetTempPath(), $"anomalysharp-cost-{Environment.ProcessId}");
        string profile;
        using (var options = ComputeThreads.SessionOptions(threads))
        {
            options.GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL;
            options.EnableProfiling = true;
            options.ProfileOutputPathPrefix = prefix;
            using var session = new InferenceSession(onnxPath, options);
            string input = session.InputMetadata.Keys.First();
            var pixels = new float[3 * size * size];
            var rng = new Random(7);
            for (int i = 0; i < pixels.Length; i++) pixels[i] = (float)rng.NextDouble();
            using var value = OrtValue.CreateTensorValueFromMemory(pixels, new long[] { 1, 3, size, size });
            using var run = new RunOptions();
            using (session.Run(run, new[] { input }, new[] { value }, session.OutputMetadata.Keys.ToArray())) { }
            profile = session.EndProfiling();
        }
        try { return Count(profile, integerNodes); }
        finally { File.Delete(profile); }
    }

    static (double Float, double Integer) Count(string profile, HashSet<string> integerNodes)
    {
        double fl = 0, integer = 0;
        using var doc = JsonDocument.Parse(File.ReadAllBytes(profile));
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            if (!e.TryGetProperty("cat", out var cat) || cat.GetString() != "Node") continue;
            string name = e.GetProperty("name").GetString()!;
            if (!name.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
            var args = e.GetProperty("args");
            string op = args.GetProperty("op_name").GetString()!;
            var inputs = Shapes(args, "input_type_shape");
            var outputs = Shapes(args, "output_type_shape");
            double macs = Macs(op, inputs, outputs);
            if (macs == 0) continue;
            if (op is "ConvInteger" or "MatMulInteger" or "QLinearConv" or "QLinearMatMul"
                || integerNodes.Contains(name[..^"_kernel_time".Length])) integer += macs;
            else fl += macs;
        }
        return (fl / 1e9, integer / 1e9);
    }

    /// <summary>Multiply-accumulates of one node from its input and output shapes (0 for operators that do none).</summary>
    internal static double Macs(string op, IReadOnlyList<long[]> inputs, IReadOnlyList<long[]> outputs)
    {
        static double Product(IEnumerable<long> s) => s.Aggregate(1.0, (a, d) => a * d);
        if (outputs.Count == 0 || inputs.Count == 0) return 0;
        double outElements = Product(outputs[0]);
        switch (op)
        {
            case "Conv" or "ConvInteger" when inputs.Count > 1:
                return outElements * Product(inputs[1].Skip(1)); // W [Cout, Cin/groups, k...]
            case "QLinearConv" when inputs.Count > 3:
                return outElements * Product(inputs[3].Skip(1));
            case "ConvTranspose" when inputs.Count > 1:
                return Product(inputs[0]) * Product(inputs[1].Skip(1)); // W [Cin, Cout/groups, k...]
            case "MatMul" or "MatMulInteger" or "QLinearMatMul":
                return inputs[0].Length == 0 ? 0 : outElements * inputs[0][^1];
            case "Gemm":
                return outputs[0].Length == 0 || outputs[0][0] == 0 ? 0 : outElements * (Product(inputs[0]) / outputs[0][0]);
            default:
                return 0;
        }
    }

    static List<long[]> Shapes(JsonElement args, string key)
    {
        var list = new List<long[]>();
        if (!args.TryGetProperty(key, out var array)) return list;
        foreach (var item in array.EnumerateArray())
            foreach (var typed in item.EnumerateObject())
                list.Add(typed.Value.EnumerateArray().Select(d => d.GetInt64()).ToArray());
        return list;
    }
}
