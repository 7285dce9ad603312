using AnomalySharp.Backbones;
using AnomalySharp.Export;
using AnomalySharp.Runtime;

namespace AnomalySharp.Models.ReverseDistillation;

public sealed partial class ReverseDistillationModel
{
    /// <inheritdoc />
    public (string Maps, string Scores) AppendOnnx(OnnxGraph g, string images, int imageSize)
    {
        if (Backbone is not IOnnxBackbone exportable) throw new AnomalySharpException($"backbone {Backbone.Name} cannot be exported to ONNX");
        var encoder = exportable.AppendOnnx(g, images, Layers);
        var decoder = _network.AppendOnnx(g, encoder);
        string? sum = null;
        for (int i = 0; i < decoder.Length; i++)
        {
            string up = g.Resize(g.OneMinusCosine(encoder[i], decoder[i]), imageSize, imageSize, bilinear: true);
            sum = sum == null ? up : g.Node("Add", new[] { sum, up });
        }
        string maps = _blur.AppendOnnx(g, sum!, imageSize, imageSize);
        return (maps, g.ReduceMax(maps, 1, 2, 3));
    }
}
