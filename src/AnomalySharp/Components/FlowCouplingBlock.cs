using AnomalySharp.Graphs;
using AnomalySharp.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AnomalySharp.Components;

/// <summary>
/// One step of a normalizing flow on feature maps [B,C,H,W], as FastFlow (Yu et al. 2021) builds it from FrEIA's
/// all-in-one block: an affine coupling (the first half of the channels, through a small convolutional subnet,
/// gives a scale and a shift for the second half) with soft-clamped log-scales s = clamp·(2/π)·atan(a/clamp), a
/// learned per-channel global affine, and a fixed seeded channel permutation. <see cref="Forward"/> returns the
/// output and the log-determinant of its Jacobian per sample; <see cref="Inverse"/> undoes it exactly.
/// </summary>
internal sealed class FlowCouplingBlock : nn.Module<Tensor, (Tensor Output, Tensor LogDet)>
{
    readonly int _split;
    readonly double _clamp;
    readonly Sequential _subnet;
    readonly Parameter _globalLogScale;
    readonly Parameter _globalOffset;
    readonly Tensor _permutation;
    readonly Tensor _inversePermutation;
    // Explicit, rooted Scalars: an implicit one (a number in `a * 0.1`) can be finalized by a collection mid-call in
    // TorchSharp 0.107 (docs/architecture-notes.md); a test once saw the first convolution's gradients come out zero.
    static readonly Scalar Coupling = 0.1.ToScalar();
    readonly Scalar _clampScalar;
    readonly Scalar _atanScale;

    /// <summary>Creates a block.</summary>
    /// <param name="channels">C.</param>
    /// <param name="kernelSize">Subnet convolution size (FastFlow alternates 3 and 1).</param>
    /// <param name="hiddenRatio">Subnet hidden channels as a multiple of its input, the first C/2 channels (FastFlow: 1.0 for
    /// ResNet18).</param>
    /// <param name="clamp">Soft clamp of the log-scales (FastFlow: 2.0).</param>
    /// <param name="seed">Seed of the permutation and of the subnet's initial weights.</param>
    public FlowCouplingBlock(int channels, int kernelSize = 3, double hiddenRatio = 1.0, double clamp = 2.0,
        int seed = 0) : base("FlowCouplingBlock")
    {
        if (channels < 2) throw new ArgumentOutOfRangeException(nameof(channels), "a coupling needs at least 2 channels");
        _split = channels / 2;
        _clamp = clamp;
        _clampScalar = clamp.ToScalar();
        _atanScale = (clamp * 2 / Math.PI).ToScalar();
        int hidden = Math.Max(1, (int)Math.Round(_split * hiddenRatio));
        int pad = kernelSize / 2;
        using (var generator = new Generator((ulong)seed))
        {
            var first = nn.Conv2d(_split, hidden, kernelSize, padding: pad);
            var last = nn.Conv2d(hidden, 2 * (channels - _split), kernelSize, padding: pad);
            using (no_grad())
            {
                foreach (var conv in new[] { first, last })
                {
                    double bound = 1.0 / Math.Sqrt(conv.weight!.shape[1] * kernelSize * kernelSize);
                    using Scalar width = (2 * bound).ToScalar(), low = (-bound).ToScalar();
                    conv.weight.copy_(rand(conv.weight.shape, generator: generator).mul(width).add(low));
                    conv.bias!.zero_();
                }
            }
            _subnet = nn.Sequential(first, nn.ReLU(), last);
            var order = randperm(channels, generator: generator);
            _permutation = order.DetachFromDisposeScope();
            _inversePermutation = order.argsort().DetachFromDisposeScope();
        }
        _globalLogScale = nn.Parameter(zeros(1, channels, 1, 1));
        _globalOffset = nn.Parameter(zeros(1, channels, 1, 1));
        RegisterComponents();
    }

    Tensor SoftClamp(Tensor a) => a.div(_clampScalar).atan().mul(_atanScale);

    /// <summary>y and log|det ∂y/∂x| per sample [B].</summary>
    public override (Tensor Output, Tensor LogDet) forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var x1 = x.narrow(1, 0, _split);
        var x2 = x.narrow(1, _split, x.shape[1] - _split);
        var a = _subnet.forward(x1).mul(Coupling); // small initial coupling, as FrEIA
        long c2 = x2.shape[1];
        var s = SoftClamp(a.narrow(1, 0, c2));
        var t = a.narrow(1, c2, c2);
        var y = cat(new[] { x1, x2 * s.exp() + t }, 1);
        y = y * _globalLogScale.exp() + _globalOffset;
        y = y.index_select(1, _permutation);
        using Scalar pixels = (x.shape[2] * x.shape[3]).ToScalar();
        var logDet = s.flatten(1).sum(1) + _globalLogScale.sum().mul(pixels);
        return (y.MoveToOuterDisposeScope(), logDet.MoveToOuterDisposeScope());
    }

    /// <summary>The output and log-determinant (named entry point).</summary>
    public (Tensor Output, Tensor LogDet) Forward(Tensor x) => forward(x);

    /// <summary>The forward direction (without the log-determinant) as ONNX nodes.</summary>
    public string AppendOnnx(OnnxGraph g, string x)
    {
        long channels = _permutation.shape[0], c2 = channels - _split;
        var parts = g.Node("Split", new[] { x, g.Ints(_split, c2) }, 2, OnnxGraph.Attr("axis", 1L));
        string a = g.Conv(g.Node("Relu", new[] { g.Conv(parts[0], (Conv2d)_subnet[0]) }), (Conv2d)_subnet[2]);
        a = g.Node("Mul", new[] { a, g.Scalar(0.1f) });
        var st = g.Node("Split", new[] { a, g.Ints(c2, c2) }, 2, OnnxGraph.Attr("axis", 1L));
        string s = g.Node("Mul", new[] { g.Node("Atan", new[] { g.Node("Div", new[] { st[0], g.Scalar((float)_clamp) }) }),
            g.Scalar((float)(_clamp * 2 / Math.PI)) });
        string y2 = g.Node("Add", new[] { g.Node("Mul", new[] { parts[1], g.Node("Exp", new[] { s }) }), st[1] });
        string y = g.Node("Concat", new[] { parts[0], y2 }, OnnxGraph.Attr("axis", 1L));
        using (var scale = _globalLogScale.detach().exp())
            y = g.Node("Add", new[] { g.Node("Mul", new[] { y, g.Constant("flow_scale", scale) }), g.Constant("flow_offset",
                _globalOffset.detach()) });
        return g.Node("Gather", new[] { y, g.Constant("flow_perm", _permutation.data<long>().ToArray(), channels) },
            OnnxGraph.Attr("axis", 1L));
    }

    /// <summary>x from y (exact inverse of <see cref="Forward"/>).</summary>
    public Tensor Inverse(Tensor y)
    {
        using var scope = NewDisposeScope();
        var z = y.index_select(1, _inversePermutation);
        z = (z - _globalOffset) * (-_globalLogScale).exp();
        var x1 = z.narrow(1, 0, _split);
        var y2 = z.narrow(1, _split, z.shape[1] - _split);
        var a = _subnet.forward(x1).mul(Coupling);
        long c2 = y2.shape[1];
        var s = SoftClamp(a.narrow(1, 0, c2));
        var t = a.narrow(1, c2, c2);
        return cat(new[] { x1, (y2 - t) * (-s).exp() }, 1).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) { _permutation.Dispose(); _inversePermutation.Dispose(); _clampScalar.Dispose(); _atanScale.Dispose(); }
        base.Dispose(disposing);
    }
}
