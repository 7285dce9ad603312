using System.Runtime.InteropServices;
using AnomalySharp.Backbones;
using AnomalySharp.Graphs;
using AnomalySharp.Runtime;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace AnomalySharp.Export;

/// <summary>
/// Static post-training INT8 quantization of an exported graph's backbone in QDQ form: activations uint8
/// (asymmetric, ranges = min/max over calibration images), convolution weights int8 per output channel
/// (symmetric), biases int32 at scale x_scale·w_scale. ONNX Runtime fuses the QuantizeLinear/DequantizeLinear pairs
/// into integer kernels (QLinearConv, QLinearAdd, with ReLUs folded into the quantization), which use VNNI where the
/// CPU has it. The model heads (Mahalanobis distances, nearest-neighbour search, blur) stay float32: their distances
/// are differences of large terms that 8 bits cannot carry.
/// </summary>
public static class OnnxQuantizer
{
    static readonly HashSet<string> Producers = new() { "Conv", "Relu", "Add", "MaxPool" };

    /// <summary>
    /// Quantizes <paramref name="model"/> (unchanged) using calibration batches [N,3,S,S] of the graph input, and
    /// returns the new model. Calibration runs on <paramref name="threads"/> threads (0 = every core).
    /// </summary>
    public static ModelProto Quantize(ModelProto model, IEnumerable<float[]> calibrationBatches, (int Height, int Width) imageSize,
        int threads = 0)
    {
        var q = model.Clone();
        var graph = q.Graph;
        var backbone = graph.Node.Where(n => n.Name.StartsWith(PretrainedResNet18.BackboneScope, StringComparison.Ordinal)).ToList();
        if (!backbone.Any(n => n.OpType == "Conv")) throw new AnomalySharpException("INT8: the exported graph has no backbone "
            + "convolutions to quantize");
        var inits = graph.Initializer.ToDictionary(t => t.Name);
        var consumers = graph.Node.SelectMany(n => n.Input.Select(i => (i, n))).ToLookup(p => p.i, p => p.n);

        // Activations to quantize: every backbone convolution's input, and the outputs of backbone nodes, except a
        // Conv/Add output whose only consumer is a ReLU (the ReLU's output is quantized instead, so it folds away).
        var tensors = new List<string>();
        foreach (var n in backbone)
        {
            if (n.OpType == "Conv" && !inits.ContainsKey(n.Input[0]) && !tensors.Contains(n.Input[0])) tensors.Add(n.Input[0]);
            if (!Producers.Contains(n.OpType)) continue;
            string o = n.Output[0];
            var users = consumers[o].ToList();
            if (n.OpType is "Conv" or "Add" && users.Count == 1 && users[0].OpType == "Relu") continue;
            if (!tensors.Contains(o)) tensors.Add(o);
        }

        var (ranges, floatScores) = Calibrate(model, tensors, calibrationBatches, imageSize, threads);
        var g = new OnnxGraph();
        var newNodes = new List<NodeProto>();
        var rename = new Dictionary<string, string>();
        var qParams = new Dictionary<string, (float Scale, byte Zero)>();
        foreach (string t in tensors)
        {
            var (lo, hi) = ranges[t];
            float rmin = Math.Min(lo, 0), rmax = Math.Max(hi, 0);
            float scale = rmax > rmin ? (rmax - rmin) / 255f : 1f;
            byte zero = (byte)Math.Clamp(Math.Round(-rmin / scale), 0, 255);
            qParams[t] = (scale, zero);
            string s = g.Constant("q_scale", new[] { scale });
            string z = g.AddInitializer("q_zero", TensorProto.Types.DataType.Uint8, new[] { zero });
            var quant = new NodeProto { OpType = "QuantizeLinear", Name = "quant/" + t };
            quant.Input.AddRange(new[] { t, s, z }); quant.Output.Add(t + "/q");
            var dequant = new NodeProto { OpType = "DequantizeLinear", Name = "dequant/" + t };
            dequant.Input.AddRange(new[] { t + "/q", s, z }); dequant.Output.Add(t + "/dq");
            newNodes.Add(quant); newNodes.Add(dequant);
            rename[t] = t + "/dq";
        }
        foreach (var n in graph.Node)
            for (int i = 0; i < n.Input.Count; i++)
                if (rename.TryGetValue(n.Input[i], out string? r)) n.Input[i] = r;
        // The residual additions stay float (Sum of the two dequantized inputs, then quantized): ONNX Runtime fuses a
        // DQ-Add-Q group into its own QLinearAdd, whose x64 and WebAssembly kernels round differently in rare cases
        // (one step in ~1 of 30,000 values of layer 1, growing through layer 3), so one file would score differently
        // in a browser. Sum is the same arithmetic, matched by no fusion; every runtime computes it exactly alike.
        foreach (var n in backbone.Where(n => n.OpType == "Add" && n.Input.All(i => i.EndsWith("/dq", StringComparison.Ordinal))))
            n.OpType = "Sum";

        // Weights and biases of the backbone convolutions.
        foreach (var conv in backbone.Where(n => n.OpType == "Conv"))
        {
            string x = conv.Input[0].EndsWith("/dq", StringComparison.Ordinal) ? conv.Input[0][..^3] : conv.Input[0];
            if (!qParams.TryGetValue(x, out var xq) || !inits.TryGetValue(conv.Input[1], out var wInit)) continue;
            float[] w = OnnxTensors.ToFloats(wInit);
            int outC = (int)wInit.Dims[0], per = w.Length / outC;
            var wScale = new float[outC];
            var wq = new sbyte[w.Length];
            for (int c = 0; c < outC; c++)
            {
                float max = 0;
                for (int j = 0; j < per; j++) max = Math.Max(max, Math.Abs(w[c * per + j]));
                wScale[c] = max > 0 ? max / 127f : 1f;
                for (int j = 0; j < per; j++) wq[c * per + j] = (sbyte)Math.Clamp(Math.Round(w[c * per + j] / wScale[c]), -127, 127);
            }
            string wName = g.AddInitializer("w_int8", TensorProto.Types.DataType.Int8, MemoryMarshal.AsBytes<sbyte>(wq),
                wInit.Dims.ToArray());
            string wScaleName = g.Constant("w_scale", wScale, outC);
            string wZero = g.AddInitializer("w_zero", TensorProto.Types.DataType.Int8, new byte[outC], outC);
            conv.Input[1] = Dequant(newNodes, conv.Name + "/w", wName, wScaleName, wZero);
            if (conv.Input.Count > 2 && inits.TryGetValue(conv.Input[2], out var bInit))
            {
                float[] b = OnnxTensors.ToFloats(bInit);
                var bScale = wScale.Select(s => s * xq.Scale).ToArray();
                var bq = b.Select((v, c) => (int)Math.Clamp(Math.Round(v / bScale[c]), int.MinValue, int.MaxValue)).ToArray();
                string bName = g.AddInitializer("b_int32", TensorProto.Types.DataType.Int32, MemoryMarshal.AsBytes<int>(bq), outC);
                conv.Input[2] = Dequant(newNodes, conv.Name + "/b", bName, g.Constant("b_scale", bScale, outC),
                    g.AddInitializer("b_zero", TensorProto.Types.DataType.Int32, new byte[outC * 4], outC));
            }
        }

        // Put each Q/DQ pair right after its producer (or first, for graph inputs) to keep the node list topological.
        var ordered = new List<NodeProto>();
        var pending = newNodes.ToList();
        var inserted = new HashSet<NodeProto>();
        void Flush(string produced)
        {
            foreach (var n in pending.Where(n => n.Input[0] == produced || (n.Input[0].EndsWith("/q",
                StringComparison.Ordinal) && n.Input[0][..^2] == produced)).ToList())
                if (inserted.Add(n)) ordered.Add(n);
        }
        foreach (var n in pending.Where(n => n.OpType == "DequantizeLinear" && !n.Input[0].EndsWith("/q",
            StringComparison.Ordinal))) { inserted.Add(n); ordered.Add(n); }
        foreach (var input in graph.Input) Flush(input.Name);
        foreach (var n in graph.Node)
        {
            ordered.Add(n);
            foreach (string o in n.Output) Flush(o);
        }
        graph.Node.Clear();
        graph.Node.AddRange(ordered);
        graph.Initializer.AddRange(g.Graph.Initializer);
        var precision = q.MetadataProps.FirstOrDefault(p => p.Key == "anomalysharp.precision");
        if (precision != null) precision.Value = "int8 backbone (QDQ, per-channel weights), float32 head";
        CheckDrift(q, calibrationBatches, floatScores, imageSize, threads);
        return q;
    }

    /// <summary>The largest mean change of the normalized image score (0..1, threshold 0.5) INT8 may cause on the calibration
    /// images.</summary>
    public const double MaxMeanScoreDrift = 0.2;
    /// <summary>The largest share of the (normal) calibration images INT8 may turn from normal to anomalous.</summary>
    public const double MaxFlippedShare = 0.1;

    /// <summary>
    /// Scores the calibration images with the quantized graph and compares them with the float graph's scores: records the
    /// mean change in the model's metadata, and refuses a model whose scores INT8 moves by more than
    /// <see cref="MaxMeanScoreDrift"/> on average, or that it makes call more than <see cref="MaxFlippedShare"/> of these
    /// normal images anomalous (a head that 8-bit features cannot feed, e.g. DFM's reconstruction residual).
    /// </summary>
    static void CheckDrift(ModelProto q, IEnumerable<float[]> batches, List<float> floatScores, (int Height, int Width) size, int threads)
    {
        var scores = new List<float>();
        RunBatches(q, new List<string> { OnnxExporter.ScoreName }, batches, size, threads, (outputs,
            _) => scores.AddRange(outputs[0].GetTensorDataAsSpan<float>().ToArray()));
        if (scores.Count != floatScores.Count) throw new InvalidOperationException("INT8: the calibration images changed between passes");
        var drift = scores.Zip(floatScores, (a, b) => Math.Abs((double)a - b)).ToList();
        double mean = drift.Average(), max = drift.Max();
        int flips = scores.Zip(floatScores).Count(p => p.First >= 0.5f && p.Second < 0.5f);
        string model = q.MetadataProps.FirstOrDefault(p => p.Key == "anomalysharp.model")?.Value ?? "the model";
        if (mean > MaxMeanScoreDrift || flips > MaxFlippedShare * scores.Count)
            throw new AnomalySharpException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"INT8 moves {model}'s normalized image score by {mean:0.000} on average (largest {max:0.000}) over {scores.Count} "
                    + $"normal calibration images and calls {flips} of them anomalous (limits {MaxMeanScoreDrift} and "
                        + $"{MaxFlippedShare:0%}): this model does not keep its accuracy in INT8, export it in float32"));
        q.MetadataProps.Add(new StringStringEntryProto
        {
            Key = "anomalysharp.int8_score_drift",
            Value = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"mean {mean:0.0000}, max {max:0.0000} over {scores.Count} calibration images")
        });
    }

    static string Dequant(List<NodeProto> nodes, string name, string value, string scale, string zero)
    {
        var dq = new NodeProto { OpType = "DequantizeLinear", Name = "dequant/" + name };
        dq.Input.AddRange(new[] { value, scale, zero });
        dq.Output.Add(name + "/dq");
        dq.Attribute.Add(OnnxGraph.Attr("axis", 0L));
        nodes.Add(dq);
        return name + "/dq";
    }

    /// <summary>Min and max of each named value over the calibration batches (reductions added to the float model as extra
    /// outputs).</summary>
    static (Dictionary<string, (float Min, float Max)> Ranges, List<float> Scores) Calibrate(ModelProto model, List<string> tensors,
        IEnumerable<float[]> batches, (int Height, int Width) size, int threads)
    {
        var probe = model.Clone();
        var names = new List<string>();
        foreach (string t in tensors)
            foreach (string op in new[] { "ReduceMin", "ReduceMax" })
            {
                var node = new NodeProto { OpType = op, Name = $"calibrate/{op}/{t}" };
                node.Input.Add(t); node.Output.Add(node.Name);
                node.Attribute.Add(OnnxGraph.Attr("keepdims", 0L));
                probe.Graph.Node.Add(node);
                probe.Graph.Output.Add(new ValueInfoProto
                {
                    Name = node.Name,
                    Type = new TypeProto
                    {
                        TensorType = new TypeProto.Types.Tensor
                        {
                            ElemType
                        = (int)TensorProto.Types.DataType.Float
                        }
                    }
                });
                names.Add(node.Name);
            }
        var ranges = tensors.ToDictionary(t => t, _ => (Min: float.PositiveInfinity, Max: float.NegativeInfinity));
        var scores = new List<float>();
        names.Add(OnnxExporter.ScoreName);
        int seen = 0;
        RunBatches(probe, names, batches, size, threads, (outputs, n) =>
        {
            for (int i = 0; i < tensors.Count; i++)
            {
                var (lo, hi) = ranges[tensors[i]];
                ranges[tensors[i]] = (Math.Min(lo, outputs[2 * i].GetTensorDataAsSpan<float>()[0]), Math.Max(hi,
                    outputs[2 * i + 1].GetTensorDataAsSpan<float>()[0]));
            }
            scores.AddRange(outputs[^1].GetTensorDataAsSpan<float>().ToArray());
            seen += n;
        });
        if (seen == 0) throw new AnomalySharpException("INT8: no calibration images");
        return (ranges, scores);
    }

    /// <summary>Runs <paramref name="model"/> on each calibration batch [N,3,S,S] and hands <paramref name="names"/>' outputs and N to
    /// <paramref name="use"/>.</summary>
    static void RunBatches(ModelProto model, List<string> names, IEnumerable<float[]> batches, (int Height, int Width) size,
        int threads, Action<IDisposableReadOnlyCollection<OrtValue>, int> use)
    {
        using var options = AnomalySharp.Runtime.ComputeThreads.SessionOptions(threads);
        using var session = new InferenceSession(model.ToByteArray(), options);
        foreach (float[] batch in batches)
        {
            int n = batch.Length / (3 * size.Height * size.Width);
            using var input = OrtValue.CreateTensorValueFromMemory(batch, new long[] { n, 3, size.Height, size.Width });
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, new[] { OnnxExporter.InputName }, new[] { input }, names);
            use(outputs, n);
        }
    }
}
