using TorchSharp;
using static TorchSharp.torch;

namespace AnomalySharp.Backbones;

/// <summary>
/// A convolution with its batch normalization folded in (frozen, inference only). Padding follows the CNTK
/// export: symmetric for stride 1, top/left only (asymmetric) for stride 2.
/// </summary>
internal sealed class FusedConv : IDisposable
{
    /// <summary>Folded weight [out,in,k,k].</summary>
    public Tensor Weight { get; }
    /// <summary>Folded bias [out].</summary>
    public Tensor Bias { get; }
    /// <summary>Stride.</summary>
    public int Stride { get; }
    /// <summary>Padding as ONNX pads: top, left, bottom, right.</summary>
    public long[] Pads { get; }

    /// <summary>Folds batch-norm statistics into a convolution, in place: <paramref name="weight"/> (contiguous, owned by the
    /// result from now on) becomes the folded weight, so that no second copy of it is made.</summary>
    public FusedConv(Tensor weight, Tensor gamma, Tensor beta, Tensor mean, Tensor variance, double epsilon, int stride, long[] pads)
    {
        using var scope = NewDisposeScope();
        using var eps = epsilon.ToScalar(); // kept alive and disposed here: an implicit Scalar could be finalized mid-call
        var scale = gamma / (variance + eps).sqrt();
        weight.mul_(scale.view(-1, 1, 1, 1));
        Weight = weight.DetachFromDisposeScope(); // folded on first use, maybe inside a caller's scope: it lives with this
        Bias = (beta - mean * scale).contiguous().DetachFromDisposeScope();
        Stride = stride;
        Pads = pads;
    }

    /// <summary>Reads a convolution and its batch normalization from <paramref name="weights"/> and folds them.</summary>
    public static FusedConv Read(Graphs.OnnxWeightFile weights, Spec spec)
    {
        var w = weights.Tensor(spec.Weight); // becomes the folded weight
        try
        {
            using var g = weights.Tensor(spec.Gamma);
            using var b = weights.Tensor(spec.Beta);
            using var m = weights.Tensor(spec.Mean);
            using var v = weights.Tensor(spec.Variance);
            return new FusedConv(w, g, b, m, v, spec.Epsilon, spec.Stride, spec.Pads);
        }
        catch
        {
            w.Dispose();
            throw;
        }
    }

    /// <summary>Where a convolution's weights and its batch normalization's statistics are in an ONNX graph.</summary>
    public sealed record Spec(string Weight, string Gamma, string Beta, string Mean, string Variance, double Epsilon, int Stride,
        long[] Pads)
    {
        /// <summary>The five initializers <see cref="Read"/> reads.</summary>
        public string[] Names => [Weight, Gamma, Beta, Mean, Variance];
    }

    /// <summary>Applies the convolution (no activation).</summary>
    public Tensor Forward(Tensor x)
    {
        bool symmetric = Pads[0] == Pads[2] && Pads[1] == Pads[3];
        if (symmetric)
            return nn.functional.conv2d(x, Weight, Bias, strides: new long[] { Stride, Stride }, padding: new long[] { Pads[0], Pads[1] });
        using var padded = nn.functional.pad(x, new long[] { Pads[1], Pads[3], Pads[0], Pads[2] });
        return nn.functional.conv2d(padded, Weight, Bias, strides: new long[] { Stride, Stride });
    }

    /// <inheritdoc />
    public void Dispose() { Weight.Dispose(); Bias.Dispose(); }
}
