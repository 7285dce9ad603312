using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace AnomalySharp.Backbones;

/// <summary>
/// A frozen feature extractor that runs an ONNX classification network in ONNX Runtime, tapping named graph
/// values as feature layers. The graph is pruned to what the deepest tapped value needs and its input made
/// dynamic in batch, height and width. On this project's CPUs ONNX Runtime runs ResNet18's layers 1–3 several
/// times faster than the same convolutions in TorchSharp, so frozen backbones use it by default.
/// </summary>
public sealed class OnnxFeatureExtractor : IFeatureExtractor, IOnnxBackbone
{
    readonly InferenceSession _session;
    readonly string _inputName;
    readonly IReadOnlyList<string> _names;
    readonly IReadOnlyList<string> _graphOutputs;
    readonly int[] _channels;
    readonly int[] _strides;
    readonly Func<Tensor, Tensor> _preprocess;
    readonly ModelProto _pruned;
    readonly IOnnxBackbone? _exportAs;
    readonly OnnxInputConvention? _convention;

    /// <inheritdoc />
    public string Name { get; }
    /// <inheritdoc />
    public IReadOnlyList<string> LayerNames => _names;

    /// <summary>Builds the session.</summary>
    /// <param name="name">Backbone name for reports.</param>
    /// <param name="onnxPath">The network.</param>
    /// <param name="layerNames">Our names of the tapped layers, shallow to deep.</param>
    /// <param name="graphOutputs">The graph value tapped for each layer.</param>
    /// <param name="channels">Channels of each layer.</param>
    /// <param name="strides">Stride of each layer.</param>
    /// <param name="preprocess">RGB 0..1 images → the network's input.</param>
    /// <param name="threads">ONNX Runtime intra-op threads (0 = every core).</param>
    /// <param name="exportAs">What to write into an exported ONNX model instead of this graph (e.g. the rebuilt ResNet18), or null.</param>
    /// <param name="convention">The input convention <paramref name="preprocess"/> applies, for export of a user's graph, or null.</param>
    public OnnxFeatureExtractor(string name, string onnxPath, IReadOnlyList<string> layerNames, IReadOnlyList<string> graphOutputs,
        int[] channels, int[] strides, Func<Tensor, Tensor> preprocess, int threads, IOnnxBackbone? exportAs = null,
            OnnxInputConvention? convention = null)
        : this(name, Pruned(onnxPath, graphOutputs), layerNames, graphOutputs, channels, strides, preprocess, threads, exportAs,
            convention)
    {
    }

    OnnxFeatureExtractor(string name, ModelProto model, IReadOnlyList<string> layerNames, IReadOnlyList<string> graphOutputs,
        int[] channels, int[] strides, Func<Tensor, Tensor> preprocess, int threads, IOnnxBackbone? exportAs,
            OnnxInputConvention? convention)
    {
        Name = name; _names = layerNames; _graphOutputs = graphOutputs; _channels = channels; _strides = strides; _preprocess = preprocess;
        _exportAs = exportAs; _convention = convention;
        _pruned = model;
        // No arena: one kept for the largest batch held 700-830 MB at 512 px through PatchCore's k-center and after the fit
        // (ONNX Runtime's shrink option handed little back); each batch's activations are large enough to be fresh
        // mappings that go back when freed.
        using var options = AnomalySharp.Runtime.ComputeThreads.SessionOptions(threads, arena: false);
        _session = new InferenceSession(model.ToByteArray(), options);
        _inputName = _session.InputMetadata.Keys.Single();
    }

    /// <summary>
    /// The packaged ResNet18 run by ONNX Runtime from the graph its export writes (<see cref="IOnnxBackbone.AppendOnnx"/>:
    /// the input conversion and the folded convolutions up to <paramref name="deepest"/>), so the features a model is
    /// fitted on come from the very graph its exported file runs, and a process neither parses the 64 MB original a
    /// second time nor has ONNX Runtime fold its batch normalizations again.
    /// </summary>
    internal static OnnxFeatureExtractor FromExport(PretrainedResNet18 net, string deepest, int threads)
    {
        var layers = net.LayerNames.Take(net.LayerNames.ToList().IndexOf(deepest) + 1).ToList();
        var g = new Runtime.OnnxGraph();
        g.Input("images", "batch", 3, "height", "width");
        var values = net.AppendOnnx(g, "images", layers);
        for (int i = 0; i < values.Length; i++) g.Output(values[i], "batch", net.Channels(layers[i]), $"height_{i}", $"width_{i}");
        var model = g.ToModel(new Dictionary<string, string>(), "resnet18 feature layers");
        return new OnnxFeatureExtractor(net.Name, model, layers, values, layers.Select(net.Channels).ToArray(),
            layers.Select(net.Stride).ToArray(), images => images.alias(), threads, exportAs: net, convention: null);
    }

    static ModelProto Pruned(string onnxPath, IReadOnlyList<string> graphOutputs)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(onnxPath));
        Prune(model, graphOutputs);
        return model;
    }

    /// <summary>
    /// An extractor for a user's network: the tapped values' channels and strides are read from one forward pass of
    /// a blank <paramref name="probeSize"/>² image (layer names are the graph value names).
    /// </summary>
    public static OnnxFeatureExtractor Probe(string name, string onnxPath, IReadOnlyList<string> graphOutputs,
        OnnxInputConvention convention, int threads, int probeSize)
    {
        var probe = new OnnxFeatureExtractor(name, onnxPath, graphOutputs, graphOutputs,
            graphOutputs.Select(_ => 0).ToArray(), graphOutputs.Select(_ => 0).ToArray(), convention.Apply, threads,
                convention: convention);
        Tensor[] shapes;
        try
        {
            using var blank = zeros(1, 3, probeSize, probeSize);
            shapes = probe.Extract(blank, graphOutputs);
        }
        catch (OnnxRuntimeException e)
        {
            probe.Dispose();
            throw new AnomalySharpException($"{onnxPath}: the network does not run on a 1x3x{probeSize}x{probeSize} image "
                + $"({e.Message.Split('\n')[0]})", e);
        }
        for (int i = 0; i < shapes.Length; i++)
        {
            if (shapes[i].dim() != 4)
                throw new AnomalySharpException($"{onnxPath}: value '{graphOutputs[i]}' is not a feature map (shape "
                    + $"[{string.Join(",", shapes[i].shape)}]); tap a 4-D convolutional output");
            probe._channels[i] = (int)shapes[i].shape[1];
            probe._strides[i] = (int)Math.Max(1, probeSize / shapes[i].shape[2]);
            shapes[i].Dispose();
        }
        return probe;
    }

    /// <summary>Keeps only the nodes and initializers needed for <paramref name="outputs"/>; makes the input dynamic.</summary>
    static void Prune(ModelProto model, IReadOnlyList<string> outputs)
    {
        var graph = model.Graph;
        var initNames = graph.Initializer.Select(t => t.Name).ToHashSet();
        var input = graph.Input.Single(i => !initNames.Contains(i.Name));
        var dims = input.Type.TensorType.Shape.Dim;
        if (dims.Count == 4)
        {
            dims[0] = new TensorShapeProto.Types.Dimension { DimParam = "batch" };
            dims[2] = new TensorShapeProto.Types.Dimension { DimParam = "height" };
            dims[3] = new TensorShapeProto.Types.Dimension { DimParam = "width" };
        }
        var needed = new HashSet<string>(outputs);
        var keep = new List<NodeProto>();
        foreach (var node in graph.Node.Reverse())
        {
            if (!node.Output.Any(needed.Contains)) continue;
            keep.Add(node);
            foreach (string i in node.Input) needed.Add(i);
        }
        keep.Reverse();
        var missing = outputs.Where(o => keep.All(n => !n.Output.Contains(o))).ToList();
        if (missing.Count > 0)
            throw new AnomalySharpException($"ONNX backbone has no value named {string.Join(", ", missing)} (some of its values: "
                + $"{string.Join(", ", graph.Node.Take(6).Select(n => n.Output[0]))}, ...)");
        graph.Node.Clear(); graph.Node.AddRange(keep);
        var inits = graph.Initializer.Where(t => needed.Contains(t.Name)).ToList();
        graph.Initializer.Clear(); graph.Initializer.AddRange(inits);
        graph.ValueInfo.Clear(); // fixed shapes recorded for the original input size would only mislead
        graph.Output.Clear();
        foreach (string o in outputs)
            graph.Output.Add(new ValueInfoProto
            {
                Name = o,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } }
            });
    }

    int IndexOf(string layer)
    {
        int i = _names.ToList().IndexOf(layer);
        if (i < 0) throw new AnomalySharpException($"unknown backbone layer '{layer}' ({Name} has {string.Join(", ", _names)})");
        return i;
    }

    /// <inheritdoc />
    public int Channels(string layer) => _channels[IndexOf(layer)];
    /// <inheritdoc />
    public int Stride(string layer) => _strides[IndexOf(layer)];

    /// <inheritdoc />
    /// <remarks>
    /// Copies go through pooled managed buffers and ONNX Runtime's native outputs, so a batch allocates almost no
    /// managed memory (fewer garbage collections, and with them fewer chances for TorchSharp's finalizer race).
    /// </remarks>
    public Tensor[] Extract(Tensor images, IReadOnlyList<string> layers)
    {
        var wanted = layers.Select(l => _graphOutputs[IndexOf(l)]).ToArray();
        var names = wanted.Distinct().ToArray();
        long[] shape;
        float[] buffer;
        int count;
        using (var scope = NewDisposeScope())
        {
            var prepared = _preprocess(images).contiguous();
            shape = prepared.shape;
            count = checked((int)prepared.numel());
            buffer = System.Buffers.ArrayPool<float>.Shared.Rent(count);
            prepared.data<float>().CopyTo(buffer.AsSpan(0, count));
        }
        try
        {
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer.AsMemory(0, count), shape);
            using var runOptions = new RunOptions();
            using var outputs = _session.Run(runOptions, new[] { _inputName }, new[] { input }, names);
            var byName = new Dictionary<string, Tensor>();
            for (int i = 0; i < names.Length; i++)
            {
                var value = outputs[i];
                var result = empty(value.GetTensorTypeAndShape().Shape);
                result.data<float>().CopyFrom(value.GetTensorDataAsSpan<float>());
                byName[names[i]] = result;
            }
            return wanted.Select((w, i) => Array.IndexOf(wanted, w) == i ? byName[w] : byName[w].clone()).ToArray();
        }
        finally { System.Buffers.ArrayPool<float>.Shared.Return(buffer); }
    }

    /// <inheritdoc />
    public void Dispose() => _session.Dispose();

    /// <inheritdoc />
    /// <remarks>
    /// A user's network is copied in (pruned, value names prefixed) after its input convention. Its default-domain
    /// opset must be 7–17: from 13 its nodes are carried unchanged, older ones are upgraded (<see cref="OnnxOpsetUpgrade"/>).
    /// </remarks>
    public string[] AppendOnnx(Runtime.OnnxGraph g, string images, IReadOnlyList<string> layers)
    {
        if (_exportAs != null) return _exportAs.AppendOnnx(g, images, layers);
        if (_convention is null) throw new AnomalySharpException($"backbone {Name} cannot be exported to ONNX");
        long opset = _pruned.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(0).Max();
        if (opset < OnnxOpsetUpgrade.Oldest || opset > Runtime.OnnxGraph.Opset)
            throw new AnomalySharpException($"backbone {Name}: needs an ONNX graph at opset {OnnxOpsetUpgrade.Oldest} to "
                + $"{Runtime.OnnxGraph.Opset}, this one is opset {opset}; convert it (e.g. onnx.version_converter) and retry");
        string x = _convention.ChannelOrder == ChannelOrder.Bgr ? g.Node("Gather", new[] { images, g.Ints(2, 1, 0) },
            Runtime.OnnxGraph.Attr("axis", 1L)) : images;
        x = g.Node("Mul", new[] { x, g.Scalar((float)_convention.Scale) });
        x = g.Node("Sub", new[] { x, g.Constant("input_mean", _convention.Mean.Select(v => (float)v).ToArray(), 1, 3, 1, 1) });
        x = g.Node("Div", new[] { x, g.Constant("input_std", _convention.Std.Select(v => (float)v).ToArray(), 1, 3, 1, 1) });
        string prefix = PretrainedResNet18.BackboneScope + g.Fresh("user") + "/";
        var source = _pruned.Graph;
        string input = source.Input.Single(i => source.Initializer.All(t => t.Name != i.Name)).Name;
        string Map(string v) => v.Length == 0 ? v : v == input ? x : prefix + v;
        foreach (var t in source.Initializer)
        {
            var copy = t.Clone();
            copy.Name = Map(t.Name);
            g.Graph.Initializer.Add(copy);
        }
        foreach (var n in source.Node)
        {
            var copy = n.Clone();
            copy.Name = prefix + n.Name;
            for (int i = 0; i < copy.Input.Count; i++) copy.Input[i] = Map(copy.Input[i]);
            for (int i = 0; i < copy.Output.Count; i++) copy.Output[i] = Map(copy.Output[i]);
            OnnxOpsetUpgrade.Upgrade(copy, opset, g, Name);
            if (copy.Domain is { Length: > 0 } domain and not "ai.onnx")
            {
                // Another domain's operator (com.microsoft from ONNX Runtime's optimizer, say) keeps its opset import;
                // the export then states that it runs in ONNX Runtime only (RuntimeRequirement).
                var import = _pruned.OpsetImport.FirstOrDefault(o => o.Domain == domain)
                    ?? throw new AnomalySharpException($"backbone {Name}: node '{n.Name}' ({domain}.{n.OpType}) has a domain the file "
                        + $"does not import");
                g.ImportDomain(domain, import.Version);
            }
            g.Graph.Node.Add(copy);
        }
        return layers.Select(l => Map(_graphOutputs[IndexOf(l)])).ToArray();
    }
}
