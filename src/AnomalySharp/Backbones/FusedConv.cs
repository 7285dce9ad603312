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

    /// <summary>Folds batch-norm statistics into a convolution.</summary>
    public FusedConv(Tensor weight, Tensor gamma, Tensor beta, Tensor mean, Tensor variance, double epsilon, int stride, long[] pads)
    {
        using var scope = NewDisposeScope();
        var scale = gamma / (variance + epsilon).sqrt();
        Weight = (weight * scale.view(-1, 1, 1, 1)).contiguous().DetachFromDisposeScope();
        Bias = (beta - mean * scale).contiguous().DetachFromDisposeScope();
        Stride = stride;
        Pads = pads;
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
