using AnomalySharp.Components;
using AnomalySharp.Graphs;
using Onnx;
using static TorchSharp.torch;

namespace AnomalySharp.Backbones;

/// <summary>
/// The ImageNet-pretrained ResNet18 shipped as ONNX by the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18,
/// rebuilt as TorchSharp operations with batch normalization folded into the convolutions. Its input convention
/// (CNTK's): BGR, 0..255, minus a per-channel mean; stride-2 layers pad top/left only. <see cref="Extract"/>
/// takes ordinary RGB 0..1 images and does that conversion itself. Layers 1–3 match torchvision's ResNet18 layout
/// (64, 128, 256 channels at strides 4, 8, 16); layer4 (512 channels, stride 32) has three blocks.
/// </summary>
public sealed class PretrainedResNet18 : IFeatureExtractor, IOnnxBackbone
{
    /// <summary>Environment variable that overrides where ResNet18.onnx is looked for.</summary>
    public const string PathVariable = "ANOMALYSHARP_RESNET18_ONNX";

    static readonly string[] Names = { "layer1", "layer2", "layer3", "layer4" };
    static readonly int[] BlocksPerLayer = { 2, 2, 2, 3 };
    static readonly int[] ChannelsPerLayer = { 64, 128, 256, 512 };

    readonly FusedConv _stem;
    readonly Lazy<List<BasicBlock>>[] _layers;
    readonly Graphs.OnnxWeightFile _weights;
    readonly Tensor _meanBgr;

    /// <inheritdoc />
    public string Name => "resnet18";
    /// <inheritdoc />
    public IReadOnlyList<string> LayerNames => Names;
    /// <summary>Per-channel mean subtracted from BGR 0..255 input (B, G, R).</summary>
    public float[] MeanBgr { get; }
    /// <summary>Names of the ONNX graph values that hold each layer's output (for parity checks).</summary>
    public IReadOnlyList<string> OnnxLayerOutputs { get; }
    /// <summary>The file the weights were read from.</summary>
    public string OnnxPath { get; }

    sealed record BasicBlock(FusedConv Conv1, FusedConv Conv2, FusedConv? Downsample);

    PretrainedResNet18(string onnxPath, Graphs.OnnxWeightFile weights, FusedConv.Spec[] convs, float[] meanBgr,
        IReadOnlyList<string> outputs)
    {
        OnnxPath = onnxPath; _weights = weights; MeanBgr = meanBgr; OnnxLayerOutputs = outputs;
        _stem = FusedConv.Read(weights, convs[0]);
        _layers = new Lazy<List<BasicBlock>>[Names.Length];
        int k = 1;
        for (int l = 0; l < Names.Length; l++)
        {
            // In this graph a downsampling block lists its 1x1 shortcut convolution before its main path.
            var specs = convs.AsSpan(k, (l > 0 ? 1 : 0) + 2 * BlocksPerLayer[l]).ToArray();
            k += specs.Length;
            _layers[l] = new Lazy<List<BasicBlock>>(() => Fold(weights, specs), LazyThreadSafetyMode.ExecutionAndPublication);
        }
        _meanBgr = tensor(meanBgr).view(1, 3, 1, 1).DetachFromDisposeScope();
    }

    /// <summary>A layer's blocks, read and folded when the layer is first used: layer 4 holds three quarters of the weights,
    /// which PaDiM, PatchCore and most runs never use.</summary>
    static List<BasicBlock> Fold(Graphs.OnnxWeightFile weights, FusedConv.Spec[] specs)
    {
        bool downsamples = specs.Length % 2 == 1;
        FusedConv? down = downsamples ? FusedConv.Read(weights, specs[0]) : null;
        var blocks = new List<BasicBlock>();
        for (int i = downsamples ? 1 : 0; i < specs.Length; i += 2)
            blocks.Add(new BasicBlock(FusedConv.Read(weights, specs[i]), FusedConv.Read(weights, specs[i + 1]), blocks.Count == 0 ? down
                : null));
        return blocks;
    }

    /// <inheritdoc />
    public int Channels(string layer) => ChannelsPerLayer[IndexOf(layer)];
    /// <inheritdoc />
    public int Stride(string layer) => 4 << IndexOf(layer);

    static int IndexOf(string layer)
    {
        int i = Array.IndexOf(Names, layer);
        if (i < 0) throw new AnomalySharpException($"unknown backbone layer '{layer}' (resnet18 has {string.Join(", ", Names)})");
        return i;
    }

    /// <summary>The directory that holds the packaged DnnImageModels folder.</summary>
    public static string DefaultModelDirectory => Path.Combine(AppContext.BaseDirectory, "DnnImageModels");

    /// <summary>Finds ResNet18.onnx: the environment variable, else next to the application.</summary>
    public static string LocateOnnx()
    {
        string? custom = Environment.GetEnvironmentVariable(PathVariable);
        string path = string.IsNullOrEmpty(custom) ? Path.Combine(DefaultModelDirectory, "ResNet18Onnx", "ResNet18.onnx") : custom;
        if (!File.Exists(path))
            throw new AnomalySharpException($"pretrained ResNet18 not found at {path} (it ships with the NuGet package "
                + $"Microsoft.ML.DnnImageFeaturizer.ResNet18; set {PathVariable} to its ResNet18.onnx)");
        return path;
    }

    static readonly Lazy<PretrainedResNet18> Shared = new(() => Load(LocateOnnx()));

    /// <summary>One process-wide instance (weights are read once; the extractor is stateless and thread-safe).</summary>
    public static PretrainedResNet18 Instance => Shared.Value;

    /// <summary>Reads the weights from the ONNX graph (and the mean image from ResNetPreprocess.onnx beside it).</summary>
    public static PretrainedResNet18 Load(string onnxPath)
    {
        var weights = OnnxWeightFile.Read(onnxPath);
        try
        {
            var graph = weights.Graph;
            var consumers = new Dictionary<string, List<NodeProto>>();
            foreach (var n in graph.Node)
                foreach (var i in n.Input)
                    (consumers.TryGetValue(i, out var l) ? l : consumers[i] = new List<NodeProto>()).Add(n);

            // Every Conv is followed by exactly one BatchNormalization: fold them, in graph order.
            var convs = new List<FusedConv.Spec>();
            foreach (var node in graph.Node.Where(n => n.OpType == "Conv"))
            {
                var bn = consumers[node.Output[0]].Single(c => c.OpType == "BatchNormalization");
                var attrs = node.Attribute.ToDictionary(a => a.Name);
                var bnAttrs = bn.Attribute.ToDictionary(a => a.Name);
                convs.Add(new FusedConv.Spec(node.Input[1], bn.Input[1], bn.Input[2], bn.Input[3], bn.Input[4],
                    bnAttrs.TryGetValue("epsilon", out var e) ? e.F : 1e-5, (int)attrs["strides"].Ints[0],
                    attrs.TryGetValue("pads", out var p) ? p.Ints.ToArray() : new long[4]));
            }
            int expected = 1 + BlocksPerLayer.Sum() * 2 + 3;
            if (convs.Count != expected) throw new InvalidDataException($"{onnxPath}: expected {expected} convolutions in ResNet18, "
                + $"found {convs.Count}");
            // Every weight is checked here, since the layers are read when first used.
            foreach (string name in convs.SelectMany(c => c.Names).Where(n => !weights.Contains(n)))
                throw new InvalidDataException($"{onnxPath}: no initializer {name}");

            // Layer outputs: the ReLU after the residual Add that ends each layer.
            var adds = graph.Node.Where(n => n.OpType == "Add").ToList();
            var outputs = new List<string>();
            int addIndex = -1;
            foreach (int blocks in BlocksPerLayer)
            {
                addIndex += blocks;
                outputs.Add(consumers[adds[addIndex].Output[0]].Single(c => c.OpType == "Relu").Output[0]);
            }

            float[] mean = ReadMeanBgr(Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(onnxPath)!)!, "ResNetPrepOnnx",
                "ResNetPreprocess.onnx"));
            return new PretrainedResNet18(onnxPath, weights, convs.ToArray(), mean, outputs);
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    /// <summary>Per-channel means (B, G, R) of the 224×224 mean image in the preprocessing graph.</summary>
    static float[] ReadMeanBgr(string prepPath)
    {
        if (!File.Exists(prepPath)) throw new AnomalySharpException($"{prepPath}: preprocessing graph of the pretrained ResNet18 not "
            + $"found");
        var prep = ModelProto.Parser.ParseFrom(File.ReadAllBytes(prepPath));
        var meanImage = prep.Graph.Initializer.Single(t => t.Dims.Count == 4);
        float[] data = OnnxTensors.ToFloats(meanImage);
        int plane = data.Length / 3;
        return Enumerable.Range(0, 3).Select(c => (float)data.AsSpan(c * plane, plane).ToArray().Average()).ToArray();
    }

    /// <summary>RGB 0..1 → the network's own input (BGR 0..255 minus the mean).</summary>
    public Tensor Preprocess(Tensor rgb)
    {
        using var scope = NewDisposeScope();
        return (rgb.flip(1) * 255f - _meanBgr).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public Tensor[] Extract(Tensor images, IReadOnlyList<string> layers)
    {
        int deepest = layers.Max(IndexOf);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var x = ForwardPreprocessed(Preprocess(images), deepest);
        var result = layers.Select(l => x[IndexOf(l)]).ToArray();
        foreach (var r in result) r.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>
    /// Layer outputs up to <paramref name="deepest"/> (0-based) for already-preprocessed input. Intermediate
    /// activations are freed as soon as they are used, so peak memory stays near one layer's worth.
    /// </summary>
    public Tensor[] ForwardPreprocessed(Tensor input, int deepest)
    {
        using var noGrad = no_grad();
        var outs = new Tensor[deepest + 1];
        Tensor x;
        using (var stem = _stem.Forward(input).relu_())
        using (var padded = nn.functional.pad(stem, new long[] { 1, 0, 1, 0 }))
            x = nn.functional.max_pool2d(padded, kernel_size: 3, stride: 2);
        for (int l = 0; l <= deepest; l++)
        {
            foreach (var block in _layers[l].Value)
            {
                Tensor y;
                using (var h = block.Conv1.Forward(x).relu_()) y = block.Conv2.Forward(h);
                if (block.Downsample != null)
                    using (var identity = block.Downsample.Forward(x)) SafeOps.AddInPlace(y, identity);
                else
                    SafeOps.AddInPlace(y, x);
                y.relu_();
                if (l == 0 || !ReferenceEquals(x, outs[l - 1])) x.Dispose();
                x = y;
            }
            outs[l] = x;
        }
        return outs;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (ReferenceEquals(this, Shared.IsValueCreated ? Shared.Value : null)) return; // the shared instance lives for the process
        _stem.Dispose();
        foreach (var layer in _layers.Where(l => l.IsValueCreated))
            foreach (var b in layer.Value) { b.Conv1.Dispose(); b.Conv2.Dispose(); b.Downsample?.Dispose(); }
        _meanBgr.Dispose();
        _weights.Dispose();
    }

    /// <inheritdoc />
    /// <remarks>
    /// Written from the folded weights as plain Conv/Relu/MaxPool/Add nodes at opset 17 (the packaged graph is opset
    /// 8 with CNTK-era batch-norm attributes, so its nodes are not reused); the BGR·255 − mean conversion comes first.
    /// </remarks>
    public string[] AppendOnnx(Runtime.OnnxGraph g, string images, IReadOnlyList<string> layers)
    {
        int deepest = layers.Max(IndexOf);
        string scope = g.Scope;
        g.Scope = BackboneScope;
        string bgr = g.Node("Gather", new[] { images, g.Ints(2, 1, 0) }, Runtime.OnnxGraph.Attr("axis", 1L));
        string x = g.Node("Sub", new[] { g.Node("Mul", new[] { bgr, g.Scalar(255f) }), g.Constant("mean_bgr", MeanBgr, 1, 3, 1, 1) });
        x = g.Node("Relu", new[] { Conv(g, x, _stem) });
        x = g.Node("MaxPool", new[] { x }, Runtime.OnnxGraph.Attrs("kernel_shape", 3L, 3L), Runtime.OnnxGraph.Attrs("strides", 2L, 2L),
            Runtime.OnnxGraph.Attrs("pads", 1L, 1L, 0L, 0L)); // inputs are ≥ 0 after the ReLU, so -inf and zero padding agree
        var outs = new string[deepest + 1];
        for (int l = 0; l <= deepest; l++)
        {
            foreach (var block in _layers[l].Value)
            {
                string y = Conv(g, g.Node("Relu", new[] { Conv(g, x, block.Conv1) }), block.Conv2);
                string identity = block.Downsample != null ? Conv(g, x, block.Downsample) : x;
                x = g.Node("Relu", new[] { g.Node("Add", new[] { y, identity }) });
            }
            outs[l] = x;
        }
        g.Scope = scope;
        return layers.Select(l => outs[IndexOf(l)]).ToArray();
    }

    /// <summary>Name prefix of the backbone's nodes in an exported graph (what INT8 quantization rewrites).</summary>
    public const string BackboneScope = "backbone/";

    static string Conv(Runtime.OnnxGraph g, string x, FusedConv c)
    {
        long k = c.Weight.shape[2];
        return g.Node("Conv", new[] { x, g.Constant("conv_w", c.Weight), g.Constant("conv_b", c.Bias) },
            Runtime.OnnxGraph.Attrs("kernel_shape", k, k), Runtime.OnnxGraph.Attrs("strides", (long)c.Stride, c.Stride),
            Runtime.OnnxGraph.Attrs("pads", c.Pads));
    }
}
