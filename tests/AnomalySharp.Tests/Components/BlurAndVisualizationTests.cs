using AnomalySharp.Components;
using AnomalySharp.Visualization;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Components;

public class BlurAndVisualizationTests
{
    /// <summary>The blur's graph nodes run by ONNX Runtime on one map [1,1,H,W].</summary>
    static Tensor Blur(GaussianBlur2d blur, Tensor map)
    {
        long h = map.shape[2], w = map.shape[3];
        var g = new AnomalySharp.Runtime.OnnxGraph();
        g.Input("x", 1, 1, h, w);
        g.Rename(blur.AppendOnnx(g, "x", h, w), "y");
        g.Output("y", 1, 1, h, w);
        byte[] graph = Google.Protobuf.MessageExtensions.ToByteArray(g.ToModel(new Dictionary<string, string>(), "blur"));
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(graph);
        using var input = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(map.contiguous().data<float>().ToArray(),
            map.shape);
        using var outputs = session.Run(new Microsoft.ML.OnnxRuntime.RunOptions(), new[] { "x" }, new[] { input }, new[] { "y" });
        return tensor(outputs[0].GetTensorDataAsSpan<float>().ToArray()).view(1, 1, h, w);
    }

    [Fact]
    public void GaussianBlurKeepsConstantsAndSpreadsAnImpulseWithItsSigma()
    {
        var blur = new GaussianBlur2d(4);
        var constant = full(new long[] { 1, 1, 64, 64 }, 3f);
        Assert.True((Blur(blur, constant) - 3f).abs().max().item<float>() < 1e-5f);
        var impulse = zeros(1, 1, 101, 101);
        impulse[0, 0, 50, 50] = tensor(1f);
        var spread = Blur(blur, impulse)[0, 0];
        Assert.Equal(1.0, spread.sum().item<float>(), 4);
        var row = spread.sum(new long[] { 0 });                          // marginal along x
        var x = arange(101, dtype: ScalarType.Float32) - 50;
        double variance = (row * x * x).sum().item<float>();
        Assert.Equal(16.0, variance, 0);                                  // σ² = 16 (kernel truncated at 4σ)
        Assert.True((spread - spread.flip(0)).abs().max().item<float>() < 1e-7f && (spread - spread.t()).abs().max().item<float>() < 1e-7f);
    }

    [Fact]
    public void JetGoesFromBlueToRed()
    {
        var c = ColorMap.Jet(tensor(new[] { 0f, 1f }).view(1, 1, 2));
        Assert.Equal(new[] { 0f, 0f, 0.5f }, new[] { c[0, 0, 0].item<float>(), c[1, 0, 0].item<float>(), c[2, 0, 0].item<float>() });
        Assert.Equal(new[] { 0.5f, 0f, 0f }, new[] { c[0, 0, 1].item<float>(), c[1, 0, 1].item<float>(), c[2, 0, 1].item<float>() });
    }

    [Fact]
    public void RendererDrawsFourPanelsAndOutlinesThePredictedRegionInRed()
    {
        var image = full(new long[] { 3, 32, 32 }, 0.5f);
        var map = zeros(1, 32, 32);
        map[0, TensorIndex.Slice(8, 16), TensorIndex.Slice(8, 16)] = tensor(1f);
        var mask = zeros(1, 32, 32);
        var panels = SampleRenderer.Render(image, map, mask);
        Assert.Equal(new long[] { 3, 32, 4 * 32 + 3 * 4 }, panels.shape);
        var outlined = panels.narrow(2, 3 * 36, 32);                     // the fourth panel
        Assert.Equal(1f, outlined[0, 8, 8].item<float>());               // red on the region's edge
        Assert.Equal(0f, outlined[1, 8, 8].item<float>());
        Assert.Equal(0.5f, outlined[0, 12, 12].item<float>());           // the inside keeps the image
        Assert.Equal(0.5f, outlined[0, 2, 2].item<float>());
        // The bytes written to the report (panel by panel, to bound memory at large sizes) are the floats, rounded.
        mask[0, TensorIndex.Slice(20, 24), TensorIndex.Slice(4, 10)] = tensor(1f);
        using var floats = SampleRenderer.Render(image, map * 0.7f, mask);
        using var bytes = SampleRenderer.RenderBytes(image, map * 0.7f, mask);
        Assert.Equal(ScalarType.Byte, bytes.dtype);
        Assert.True(bytes.eq(floats.clamp(0f, 1f).mul(255f).round().to_type(ScalarType.Byte)).all().item<bool>());
    }
}
