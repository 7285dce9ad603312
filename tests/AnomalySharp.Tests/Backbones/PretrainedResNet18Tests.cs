using AnomalySharp.Backbones;
using AnomalySharp.Data;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Backbones;

public class PretrainedResNet18Tests
{
    /// <summary>The original graph, with the four layer outputs exposed and batch/height/width made dynamic.</summary>
    static InferenceSession OriginalWithLayerOutputs(PretrainedResNet18 net)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(net.OnnxPath));
        var input = model.Graph.Input.Single(i => model.Graph.Initializer.All(t => t.Name != i.Name));
        var dims = input.Type.TensorType.Shape.Dim;
        dims[0] = new TensorShapeProto.Types.Dimension { DimParam = "N" };
        dims[2] = new TensorShapeProto.Types.Dimension { DimParam = "H" };
        dims[3] = new TensorShapeProto.Types.Dimension { DimParam = "W" };
        foreach (var o in model.Graph.Output) o.Type.TensorType.Shape.Dim.Clear();
        foreach (string name in net.OnnxLayerOutputs)
            model.Graph.Output.Add(new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
            });
        return new InferenceSession(model.ToByteArray());
    }

    [Theory]
    [InlineData("magnetic_tile", 224)]
    [InlineData("magnetic_tile", 256)]
    [InlineData("mvtec_bottle", 256)]
    public void LayerFeaturesEqualTheOriginalOnnxGraphInOnnxRuntime(string dataset, int size)
    {
        var net = PretrainedResNet18.Instance;
        using var session = OriginalWithLayerOutputs(net);
        var files = Directory.GetFiles(Path.Combine(TestPaths.SharedData(dataset), "test"), "*.*", SearchOption.AllDirectories)
            .Where(ImageFiles.IsImage).OrderBy(f => f, StringComparer.Ordinal).Where((_, i) => i % 37 == 0).Take(3).ToList();
        Assert.Equal(3, files.Count);
        using var scope = NewDisposeScope();
        var images = stack(files.Select(f => ImageIO.ToTensor(ImageIO.Decode(f), size)).ToArray());
        var prepared = net.Preprocess(images).contiguous();
        var ours = net.ForwardPreprocessed(prepared, 3);
        // The default engine's features: ONNX Runtime running the graph an export writes (folded, input conversion inside).
        var viaExport = BackboneFactory.Resnet18(BackboneEngine.Onnxruntime, 2).Extract(images, net.LayerNames);

        string inputName = session.InputMetadata.Keys.Single();
        var input = new DenseTensor<float>(prepared.data<float>().ToArray(), prepared.shape.Select(d => (int)d).ToArray());
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor(inputName, input) }, net.OnnxLayerOutputs.ToArray());
        for (int l = 0; l < net.OnnxLayerOutputs.Count; l++)
        {
            var reference = results.Single(r => r.Name == net.OnnxLayerOutputs[l]).AsTensor<float>();
            Assert.Equal(ours[l].shape, reference.Dimensions.ToArray().Select(d => (long)d).ToArray());
            var expected = tensor(reference.ToArray(), ours[l].shape);
            double maxRef = expected.abs().max().item<float>();
            double maxDiff = (ours[l] - expected).abs().max().item<float>();
            double relL2 = ((ours[l] - expected).norm() / expected.norm()).item<float>();
            Assert.True(maxDiff / maxRef < 1e-3, $"layer{l + 1}: max |diff| {maxDiff} vs max |ref| {maxRef}");
            Assert.True(relL2 < 1e-4, $"layer{l + 1}: relative L2 error {relL2}");
            double exportDiff = (viaExport[l] - expected).abs().max().item<float>();
            double exportL2 = ((viaExport[l] - expected).norm() / expected.norm()).item<float>();
            Assert.True(exportDiff / maxRef < 1e-3 && exportL2 < 1e-4, $"layer{l + 1} via the exported graph: max |diff| {exportDiff}, "
                + $"relative L2 {exportL2}");
        }
    }

    [Fact]
    public void ExtractTakesRgbZeroToOneAndGivesTheDocumentedShapes()
    {
        var net = PretrainedResNet18.Instance;
        using var scope = NewDisposeScope();
        var images = rand(2, 3, 256, 256, generator: new Generator(1));
        var f = net.Extract(images, new[] { "layer1", "layer2", "layer3" });
        Assert.Equal(new long[] { 2, 64, 64, 64 }, f[0].shape);
        Assert.Equal(new long[] { 2, 128, 32, 32 }, f[1].shape);
        Assert.Equal(new long[] { 2, 256, 16, 16 }, f[2].shape);
        Assert.Equal(new[] { 4, 8, 16 }, new[] { "layer1", "layer2", "layer3" }.Select(net.Stride));
        // The mean is that of an ImageNet BGR mean image (about 104, 117, 123).
        Assert.InRange(net.MeanBgr[0], 95, 115);
        Assert.InRange(net.MeanBgr[2], 115, 130);
    }

    [Fact]
    public void FirstLayerFiltersAreTrainedNotRandom()
    {
        // Trained first-layer filters are smooth: neighbouring weights correlate strongly; random ones do not.
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(PretrainedResNet18.Instance.OnnxPath));
        var w = model.Graph.Initializer.First(t => t.Dims.SequenceEqual(new long[] { 64, 3, 7, 7 }));
        using var t = tensor(w.RawData.Length > 0 ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte,
            float>(w.RawData.Span).ToArray() : w.FloatData.ToArray(), new long[] { 64, 3, 7, 7 });
        using var a = t.narrow(3, 0, 6).flatten();
        using var b = t.narrow(3, 1, 6).flatten();
        double corr = ((a - a.mean()) * (b - b.mean())).mean().item<float>() / (a.std().item<float>() * b.std().item<float>());
        Assert.True(corr > 0.3, $"horizontal neighbour correlation {corr}");
    }
}
