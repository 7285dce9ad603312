using AnomalySharp.Export;
using TorchSharp;
using static TorchSharp.torch;

namespace AnomalySharp.Components;

/// <summary>
/// Separable Gaussian blur of single-channel maps [B,1,H,W] with reflect padding; kernel size
/// 2·⌊4σ+0.5⌋+1 as in anomalib.
/// </summary>
public sealed class GaussianBlur2d : IDisposable
{
    readonly Tensor _row;
    readonly Tensor _column;
    readonly int _radius;
    readonly float[] _kernel;

    /// <summary>The standard deviation in pixels.</summary>
    public double Sigma { get; }

    /// <summary>Creates the kernel.</summary>
    public GaussianBlur2d(double sigma)
    {
        if (sigma <= 0) throw new AnomalySharpException($"blur sigma must be positive, got {sigma}");
        Sigma = sigma;
        _radius = (int)(4 * sigma + 0.5);
        var k = new float[2 * _radius + 1];
        for (int i = -_radius; i <= _radius; i++) k[i + _radius] = (float)Math.Exp(-0.5 * i * i / (sigma * sigma));
        float sum = k.Sum();
        for (int i = 0; i < k.Length; i++) k[i] /= sum;
        _kernel = k;
        _row = tensor(k).view(1, 1, 1, -1).DetachFromDisposeScope();
        _column = tensor(k).view(1, 1, -1, 1).DetachFromDisposeScope();
    }

    /// <summary>Blurs maps [B,1,H,W].</summary>
    public Tensor Forward(Tensor maps)
    {
        using var scope = NewDisposeScope();
        long h = maps.shape[2], w = maps.shape[3];
        // Reflect padding needs the pad below the size; fall back to replicate for tiny maps.
        var mode = _radius < h && _radius < w ? PaddingModes.Reflect : PaddingModes.Replicate;
        var x = nn.functional.pad(maps, new long[] { _radius, _radius, 0, 0 }, mode);
        x = nn.functional.conv2d(x, _row);
        x = nn.functional.pad(x, new long[] { 0, 0, _radius, _radius }, mode);
        x = nn.functional.conv2d(x, _column);
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>Appends the same blur for maps [N,1,<paramref name="height"/>,<paramref name="width"/>] to an ONNX graph.</summary>
    public string AppendOnnx(Runtime.OnnxGraph g, string maps, long height, long width)
    {
        string mode = _radius < height && _radius < width ? "reflect" : "edge";
        string x = g.Node("Pad", new[] { maps, g.Ints(0, 0, 0, _radius, 0, 0, 0, _radius) }, Runtime.OnnxGraph.Attr("mode", mode));
        x = g.Node("Conv", new[] { x, g.Constant("blur_row", _kernel, 1, 1, 1, _kernel.Length) });
        x = g.Node("Pad", new[] { x, g.Ints(0, 0, _radius, 0, 0, 0, _radius, 0) }, Runtime.OnnxGraph.Attr("mode", mode));
        return g.Node("Conv", new[] { x, g.Constant("blur_column", _kernel, 1, 1, _kernel.Length, 1) });
    }

    /// <inheritdoc />
    public void Dispose() { _row.Dispose(); _column.Dispose(); }
}
