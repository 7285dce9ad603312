using AnomalySharp.Backbones;
using AnomalySharp.Graphs;
using Onnx;

namespace AnomalySharp.Tests.Backbones;

/// <summary>The direct reader of ONNX weights against Google.Protobuf's full parse, and on damaged files.</summary>
public class OnnxWeightFileTests
{
    [Fact]
    public void EveryWeightAndNodeOfTheBackboneIsReadAsTheProtobufParseReadsIt()
    {
        string path = PretrainedResNet18.LocateOnnx();
        var parsed = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)).Graph;
        using var file = OnnxWeightFile.Read(path);
        Assert.Empty(file.Graph.Initializer);
        Assert.Equal(parsed.Node, file.Graph.Node);
        Assert.Equal(parsed.Input, file.Graph.Input);
        Assert.Equal(parsed.Output, file.Graph.Output);
        Assert.True(parsed.Initializer.Count > 100);
        foreach (var init in parsed.Initializer.Where(t => t.DataType == (int)TensorProto.Types.DataType.Float))
        {
            using var t = file.Tensor(init.Name);
            Assert.Equal(init.Dims.ToArray(), t.shape);
            Assert.Equal(OnnxTensors.ToFloats(init), t.data<float>().ToArray());
        }
    }

    [Fact]
    public void ATruncatedFileIsRefusedNamingItAndNeverReadPastItsEnd()
    {
        string path = PretrainedResNet18.LocateOnnx();
        byte[] bytes = File.ReadAllBytes(path);
        string dir = TestPaths.TempDir("weight-file");
        // Cuts inside the model header, the graph, a weight's name and a weight's floats.
        foreach (int length in new[] { 3, 17, 200, 4_000, bytes.Length / 3, bytes.Length - 5 })
        {
            string cut = Path.Combine(dir, $"cut-{length}.onnx");
            File.WriteAllBytes(cut, bytes[..length]);
            var e = Assert.Throws<InvalidDataException>(() => OnnxWeightFile.Read(cut));
            Assert.Contains(cut, e.Message);
        }
        string garbage = Path.Combine(dir, "garbage.onnx");
        File.WriteAllBytes(garbage, Enumerable.Range(0, 4096).Select(i => (byte)(i * 131 + 7)).ToArray());
        Assert.Contains(garbage, Assert.Throws<InvalidDataException>(() => OnnxWeightFile.Read(garbage)).Message);
    }
}
