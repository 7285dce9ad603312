using AnomalySharp.Configuration;
namespace AnomalySharp.Backbones;

/// <summary>Frozen feature extractors by name and engine, created once per process and shared.</summary>
public static class BackboneFactory
{
    static readonly Dictionary<(string Key, int Threads), IFeatureExtractor> Cache = new();

    static IFeatureExtractor Cached(string key, int threads, Func<IFeatureExtractor> create)
    {
        lock (Cache)
        {
            if (!Cache.TryGetValue((key, threads), out var extractor)) Cache[(key, threads)] = extractor = create();
            return extractor;
        }
    }

    /// <summary>
    /// The backbone keys every model section starts with (inserted at two spaces of indentation, so lines after the
    /// first carry their own): the packaged ResNet18 on ONNX Runtime, and torchvision's input convention for
    /// model.backbone=onnx.
    /// </summary>
    public const string DefaultsYaml = """
        backbone: resnet18
          backbone_engine: onnxruntime
          backbone_path: null
          backbone_channel_order: rgb
          backbone_input_scale: 1.0
          backbone_mean: [0.485, 0.456, 0.406]
          backbone_std: [0.229, 0.224, 0.225]
        """;

    /// <summary>The most layers a model may tap (every distinct ResNet18 stage is 4).</summary>
    public const int MaxLayers = 16;

    /// <summary>
    /// The frozen backbone and validated layer list named by a model configuration: model.backbone ("resnet18", the
    /// packaged ImageNet network, or "onnx", any network the user supplies in model.backbone_path, tapped at the graph
    /// values listed in model.layers), model.backbone_engine, the onnx input convention keys, and runtime.threads.
    /// </summary>
    public static (IFeatureExtractor Backbone, IReadOnlyList<string> Layers) FromConfig(Configuration.ConfigTree config)
    {
        int threads = RunSettings.Threads(config);
        var kind = config.GetEnum<BackboneKind>("model.backbone");
        config.Note("model.layers", $"1 to {MaxLayers} different layers (resnet18: layer1 .. layer4; onnx: graph value names)");
        config.Note("model.backbone_path", "an ONNX file, with backbone: onnx");
        var layers = config.GetStringList("model.layers");
        if (layers.Count == 0) throw new AnomalySharpException("config key 'model.layers': give at least one layer");
        if (layers.Count > MaxLayers) throw new AnomalySharpException($"config key 'model.layers': {layers.Count} layers, at most "
            + $"{MaxLayers}");
        if (layers.GroupBy(l => l, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new AnomalySharpException($"config key 'model.layers': '{twice.Key}' is listed {twice.Count()} times; each layer once");
        IFeatureExtractor backbone = kind == BackboneKind.Onnx
            ? UserOnnx(config, layers, threads)
            : Resnet18(config.GetEnum<BackboneEngine>("model.backbone_engine"), threads, layers);
        foreach (string l in layers) backbone.Channels(l); // an unknown name is an error that lists the known ones
        return (backbone, layers);
    }

    static IFeatureExtractor UserOnnx(Configuration.ConfigTree config, IReadOnlyList<string> layers, int threads)
    {
        string path = config.GetStringOrNull("model.backbone_path")
            ?? throw new AnomalySharpException("model.backbone=onnx needs model.backbone_path (an ONNX file)");
        if (!File.Exists(path)) throw new AnomalySharpException($"model.backbone_path: ONNX file not found: {path}");
        var input = OnnxInputConvention.FromConfig(config);
        int probeSize = config.GetInt("data.image_size");
        string key = $"{Path.GetFullPath(path)}|{string.Join(",", layers)}|{input}|{probeSize}";
        return Cached(key, threads, () =>
            OnnxFeatureExtractor.Probe(Path.GetFileNameWithoutExtension(path), path, layers, input, threads, probeSize));
    }

    /// <summary>The packaged ResNet18 on <paramref name="engine"/>, with <paramref name="threads"/> for ONNX Runtime.</summary>
    public static IFeatureExtractor Resnet18(BackboneEngine engine, int threads) =>
        Resnet18(engine, threads, PretrainedResNet18.Instance.LayerNames);

    /// <summary>
    /// The packaged ResNet18 for <paramref name="layers"/>: on ONNX Runtime, a session that stops at the deepest of them
    /// (layer 4 holds three quarters of the weights, and building a session with it costs a second that PaDiM and
    /// PatchCore, which stop at layer 3, never use).
    /// </summary>
    internal static IFeatureExtractor Resnet18(BackboneEngine engine, int threads, IReadOnlyList<string> layers)
    {
        var net = PretrainedResNet18.Instance;
        if (engine == BackboneEngine.Torch) return net;
        string deepest = layers.MaxBy(l => net.Stride(l))!; // an unknown name is an error that lists the known ones
        return Cached($"resnet18|onnxruntime|{deepest}", threads, () => OnnxFeatureExtractor.FromExport(net, deepest, threads));
    }
}
