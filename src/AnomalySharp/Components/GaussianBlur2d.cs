namespace AnomalySharp.Components;

/// <summary>
/// Separable Gaussian blur of single-channel maps [B,1,H,W] with reflect padding, as ONNX nodes of a model's
/// inference graph; kernel size 2·⌊4σ+0.5⌋+1 as in anomalib.
/// </summary>
public sealed class GaussianBlur2d
{
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
    }

    /// <summary>Appends the blur for maps [N,1,<paramref name="height"/>,<paramref name="width"/>] to an ONNX graph.</summary>
    public string AppendOnnx(Runtime.OnnxGraph g, string maps, long height, long width)
    {
        // Reflect padding needs the pad below the size; replicate the edge for tiny maps.
        string mode = _radius < height && _radius < width ? "reflect" : "edge";
        string x = g.Node("Pad", new[] { maps, g.Ints(0, 0, 0, _radius, 0, 0, 0, _radius) }, Runtime.OnnxGraph.Attr("mode", mode));
        x = g.Node("Conv", new[] { x, g.Constant("blur_row", _kernel, 1, 1, 1, _kernel.Length) });
        x = g.Node("Pad", new[] { x, g.Ints(0, 0, _radius, 0, 0, 0, _radius, 0) }, Runtime.OnnxGraph.Attr("mode", mode));
        return g.Node("Conv", new[] { x, g.Constant("blur_column", _kernel, 1, 1, _kernel.Length, 1) });
    }
}
