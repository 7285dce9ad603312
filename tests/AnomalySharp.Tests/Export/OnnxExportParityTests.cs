using AnomalySharp.Data;
using AnomalySharp.Engine;
using AnomalySharp.Export;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Export;

/// <summary>Exported ONNX in ONNX Runtime against the TorchSharp model, on real images.</summary>
public class OnnxExportParityTests
{
    internal static (float[] Maps, float[] Scores) RunOnnx(byte[] onnx, Tensor images)
    {
        using var session = new InferenceSession(onnx);
        var shape = images.shape;
        using var input = OrtValue.CreateTensorValueFromMemory(images.contiguous().data<float>().ToArray(), shape);
        using var outputs = session.Run(new RunOptions(), new[] { OnnxExporter.InputName }, new[] { input }, new[] { OnnxExporter.MapName, OnnxExporter.ScoreName });
        Assert.Equal(new long[] { shape[0], 1, shape[2], shape[3] }, outputs[0].GetTensorTypeAndShape().Shape);
        Assert.Equal(new long[] { shape[0] }, outputs[1].GetTensorTypeAndShape().Shape);
        return (outputs[0].GetTensorDataAsSpan<float>().ToArray(), outputs[1].GetTensorDataAsSpan<float>().ToArray());
    }

    [Theory]
    [InlineData("padim")]
    [InlineData("patchcore", "model.coreset_ratio=0.05")]
    [InlineData("dfm")]
    [InlineData("dfm", "model.score_type=nll")]
    [InlineData("stfpm", "training.max_epochs=2")]
    [InlineData("fastflow", "training.max_epochs=2")]
    [InlineData("reverse_distillation", "training.max_epochs=2")]
    [InlineData("reverse_distillation", "training.max_epochs=2", "model.layers=[layer2, layer3, layer4]")]
    public void ExportedModelMatchesTorchSharpOnRealImages(string name, params string[] sets)
    {
        foreach (var d in new AnomalySharp.Samples.CustomModel.DfmPlugin().Models) AnomalySharp.Models.ModelRegistry.Register(d);
        using var trained = RealDataModels.Fit(name, sets);
        byte[] onnx = OnnxExporter.Build(trained).ToByteArray();
        using var batch = new Batcher(RealDataModels.Size, 8).Enumerate(RealDataModels.Probe(RealDataModels.Data), false).Single();
        var (maps, scores) = trained.PredictNormalized(batch.Images);
        using (maps) using (scores)
        {
            var (onnxMaps, onnxScores) = RunOnnx(onnx, batch.Images);
            float[] torchMaps = maps.data<float>().ToArray(), torchScores = scores.data<float>().ToArray();
            double maxDiff = torchMaps.Zip(onnxMaps, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(maxDiff <= 1e-3, $"{name}: max |map difference| {maxDiff}");
            double scoreDiff = torchScores.Zip(onnxScores, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(scoreDiff <= 1e-3, $"{name}: max |score difference| {scoreDiff}");
            Assert.Equal(torchScores.Select(s => s >= 0.5), onnxScores.Select(s => s >= 0.5));
            Assert.Contains(torchScores, s => s >= 0.5);
            Assert.Contains(torchScores, s => s < 0.5);
            // Pixel labels agree except where the map lies within the tolerance of the threshold itself.
            int flipped = torchMaps.Zip(onnxMaps).Count(p => (p.First >= 0.5) != (p.Second >= 0.5) && Math.Abs(p.First - 0.5) > 1e-3);
            Assert.Equal(0, flipped);
        }
    }
}
