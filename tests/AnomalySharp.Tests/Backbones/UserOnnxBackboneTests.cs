using System.Globalization;
using AnomalySharp.Backbones;
using AnomalySharp.Engine;
using AnomalySharp.Packaging;
using AnomalySharp.Tests.Models;

namespace AnomalySharp.Tests.Backbones;

public class UserOnnxBackboneTests
{
    /// <summary>The packaged ResNet18 described as a user's own ONNX file: path, graph values and input convention.</summary>
    static AnomalySharp.Configuration.ConfigTree AsUserFile(string model, IEnumerable<int> layerIndices)
    {
        var net = PretrainedResNet18.Instance;
        var config = PadimTests.SmallConfig(model);
        string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        config.Set("model.backbone=onnx");
        config.Set($"model.backbone_path=\"{net.OnnxPath}\"");
        config.Set("model.backbone_channel_order=bgr");
        config.Set("model.backbone_input_scale=255");
        config.Set($"model.backbone_mean=[{string.Join(", ", net.MeanBgr.Select(m => F(m)))}]");
        config.Set("model.backbone_std=[1, 1, 1]");
        config.Set($"model.layers=[{string.Join(", ", layerIndices.Select(i => net.OnnxLayerOutputs[i]))}]");
        return config;
    }

    [Theory]
    [InlineData("padim", new[] { 0, 1, 2 })]
    [InlineData("patchcore", new[] { 1, 2 })]
    public void TheModelsRunOnAUserSuppliedNetworkTappedByValueName(string model, int[] layers)
    {
        var ds = PadimTests.SmallSynthetic();
        string dir = TestPaths.TempDir("byo-" + model);
        var engine = new AnomalyEngine();
        var builtIn = engine.Train(PadimTests.SmallConfig(model), ds, Path.Combine(dir, "builtin"), false).ToJson();
        var user = engine.Train(AsUserFile(model, layers), ds, Path.Combine(dir, "user"), false).ToJson();
        // Same network, same input convention: the same detector.
        foreach (string k in new[] { "image_auroc", "pixel_auroc", "aupro" })
            Assert.Equal((double)builtIn[k]!, (double)user[k]!, 3);
        using var reloaded = TrainedModel.Load(Path.Combine(dir, "user"));
        Assert.Equal("onnx", reloaded.Config.GetString("model.backbone"));
    }

    [Fact]
    public void ChannelsAndStridesAreReadFromTheNetwork()
    {
        var (backbone, layers) = BackboneFactory.FromConfig(AsUserFile("padim", new[] { 0, 1, 2 }));
        Assert.Equal(new[] { 64, 128, 256 }, layers.Select(backbone.Channels));
        Assert.Equal(new[] { 4, 8, 16 }, layers.Select(backbone.Stride));
    }

    [Fact]
    public void ANetworkWithOnnxRuntimesOwnOperatorsExportsWithTheirOpsetAndComputesTheSameFeatures()
    {
        // ONNX Runtime's optimizer writes fused com.microsoft operators (FusedConv): a file users do hand over.
        string dir = TestPaths.TempDir("byo-ort-ops"), optimized = Path.Combine(dir, "resnet18-ort.onnx");
        using (var so = new Microsoft.ML.OnnxRuntime.SessionOptions
        {
            GraphOptimizationLevel
            = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, OptimizedModelFilePath = optimized
        })
        using (new Microsoft.ML.OnnxRuntime.InferenceSession(PretrainedResNet18.Instance.OnnxPath, so)) { }
        Assert.Contains(Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimized)).Graph.Node, n => n.Domain == "com.microsoft");
        int[] layers = { 0, 1, 2 };
        float[][] Features(string path, out Onnx.ModelProto model)
        {
            var config = AsUserFile("padim", layers);
            config.Set($"model.backbone_path=\"{path}\"");
            var (backbone, names) = BackboneFactory.FromConfig(config);
            using var _ = backbone;
            var g = new AnomalySharp.Runtime.OnnxGraph();
            g.Input("image", 1, 3, 64, 64);
            var outputs = ((IOnnxBackbone)backbone).AppendOnnx(g, "image", names);
            foreach (var o in outputs) g.Graph.Output.Add(new Onnx.ValueInfoProto { Name = o });
            model = g.ToModel(new Dictionary<string, string>(), "features");
            using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(model));
            var rng = new Random(5);
            var image = new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(Enumerable.Range(0,
                3 * 64 * 64).Select(_ => (float)rng.NextDouble()).ToArray(), new[] { 1, 3, 64, 64 });
            using var result = session.Run(new[] { Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor("image", image) });
            return result.Select(r => r.AsEnumerable<float>().ToArray()).ToArray();
        }
        var plain = Features(PretrainedResNet18.Instance.OnnxPath, out var plainModel);
        var fused = Features(optimized, out var fusedModel);
        Assert.DoesNotContain(plainModel.OpsetImport, o => o.Domain == "com.microsoft");
        Assert.Contains(fusedModel.OpsetImport, o => o.Domain == "com.microsoft");
        for (int i = 0; i < plain.Length; i++)
            Assert.True(plain[i].Zip(fused[i]).Max(p => Math.Abs(p.First - p.Second)) < 1e-4, $"layer {i}");
        var needs = AnomalySharp.Runtime.RuntimeRequirement.Of(fusedModel);
        Assert.Equal(new[] { "com.microsoft" }, needs.OnnxRuntimeOnlyDomains);
    }

    [Fact]
    public void MistakesNameTheKeyOrTheValue()
    {
        var noPath = PadimTests.SmallConfig("padim");
        noPath.Set("model.backbone=onnx");
        Assert.Contains("model.backbone_path", Assert.Throws<AnomalySharpException>(() => BackboneFactory.FromConfig(noPath)).Message);
        var badLayer = AsUserFile("padim", new[] { 0 });
        badLayer.Set("model.layers=[NoSuchValue]");
        Assert.Contains("NoSuchValue", Assert.Throws<AnomalySharpException>(() => BackboneFactory.FromConfig(badLayer)).Message);
        var badStd = AsUserFile("padim", new[] { 0 });
        badStd.Set("model.backbone_std=[1, 0, 1]");
        Assert.Contains("model.backbone_std", Assert.Throws<AnomalySharpException>(() => BackboneFactory.FromConfig(badStd)).Message);
    }
}
