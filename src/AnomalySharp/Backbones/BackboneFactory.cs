namespace AnomalySharp.Backbones;

/// <summary>Frozen feature extractors by name and engine, created once per process and shared.</summary>
public static class BackboneFactory
{
    static readonly Dictionary<(string, string, int), IFeatureExtractor> Cache = new();

    /// <summary>Engines: "onnxruntime" (fast inference, default) or "torch" (the TorchSharp rebuild).</summary>
    public static readonly string[] Engines = { "onnxruntime", "torch" };

    /// <summary>
    /// The frozen backbone and validated layer list named by a model configuration (model.backbone,
    /// model.backbone_engine, model.layers; runtime.threads for ONNX Runtime).
    /// </summary>
    public static (IFeatureExtractor Backbone, IReadOnlyList<string> Layers) FromConfig(Configuration.ConfigTree config)
    {
        var backbone = Get(config.GetChoice("model.backbone", "resnet18"),
            config.GetChoice("model.backbone_engine", Engines), Engine.RunSettings.Threads(config));
        var layers = config.GetStringList("model.layers");
        if (layers.Count == 0) throw new AnomalySharpException("config key 'model.layers': give at least one layer");
        foreach (string l in layers) backbone.Channels(l); // an unknown name is an error that lists the known ones
        return (backbone, layers);
    }

    /// <summary>The extractor for a backbone name ("resnet18") on an engine, with <paramref name="threads"/> for ONNX Runtime.</summary>
    public static IFeatureExtractor Get(string backbone, string engine, int threads)
    {
        if (backbone != "resnet18") throw new AnomalySharpException($"unknown backbone '{backbone}' (known: resnet18)");
        if (engine == "torch") return PretrainedResNet18.Instance;
        if (engine != "onnxruntime") throw new AnomalySharpException($"unknown backbone engine '{engine}' (known: {string.Join(", ", Engines)})");
        lock (Cache)
        {
            if (Cache.TryGetValue((backbone, engine, threads), out var cached)) return cached;
            var net = PretrainedResNet18.Instance;
            var extractor = new OnnxFeatureExtractor("resnet18", net.OnnxPath, net.LayerNames, net.OnnxLayerOutputs,
                net.LayerNames.Select(net.Channels).ToArray(), net.LayerNames.Select(net.Stride).ToArray(), net.Preprocess, threads);
            Cache[(backbone, engine, threads)] = extractor;
            return extractor;
        }
    }
}
