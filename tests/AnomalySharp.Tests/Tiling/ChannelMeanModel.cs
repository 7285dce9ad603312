using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Models;
using AnomalySharp.Runtime;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Tiling;

/// <summary>
/// A model whose map is the image's mean over its channels: what tiling then stitches is known pixel for pixel, so
/// the tiler's cutting, blending and stitching can be checked exactly in a real ONNX Runtime session.
/// </summary>
internal sealed class ChannelMeanModel : IAnomalyModel
{
    public string Name => "channel_mean";

    public bool ScoreIsMapMax => true;

    public void Fit(FitData data, IProgressReporter progress) { }

    public (string Maps, string Scores) AppendOnnx(OnnxGraph g, string images, int imageSize)
    {
        string maps = g.Node("ReduceMean", new[] { images }, OnnxGraph.Attrs("axes", 1L), OnnxGraph.Attr("keepdims", 1L));
        return (maps, g.Node("ReduceMax", new[] { maps }, OnnxGraph.Attrs("axes", 1L, 2L, 3L), OnnxGraph.Attr("keepdims", 0L)));
    }

    public IReadOnlyDictionary<string, Tensor> GetState() => new Dictionary<string, Tensor>();

    public void LoadState(IReadOnlyDictionary<string, Tensor> state) { }

    public void Dispose() { }
}
