using System.Globalization;
using AnomalySharp.Backbones;
using AnomalySharp.Data;
using AnomalySharp.Engine;
using AnomalySharp.Models;
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
