using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AnomalySharp.Models.Cfa;

/// <summary>
/// CFA's learned part: a 1×1 CoordConv (Liu et al. 2018) that maps each position's pretrained patch feature, with its row
/// and column coordinates in −1..1 appended, to a target-oriented feature of the same width; and the memory bank it is
/// trained against, the mean of the untrained descriptor's outputs per position over the training images (a buffer:
/// checkpoints and saved models hold it). Weights start as PyTorch's Conv2d default, uniform in ±1/√fan-in, from the seed.
/// </summary>
internal sealed class PatchDescriptor : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight; // [C, C+2]: the 1×1 kernel
    readonly Parameter bias;   // [C]
    readonly Tensor memory;    // [C, P]: one centre per grid position
    readonly Tensor initialized; // 0 until the memory bank is computed, then 1
    readonly long _height, _width;

    public PatchDescriptor(long channels, long height, long width, int seed) : base("PatchDescriptor")
    {
        if (height < 2 || width < 2) throw new ArgumentException($"a {height}x{width} grid has no coordinates to add");
        _height = height; _width = width;
        weight = new Parameter(empty(channels, channels + 2));
        bias = new Parameter(empty(channels));
        memory = zeros(channels, height * width);
        initialized = zeros(1);
        using (var generator = new Generator((ulong)seed))
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            double bound = 1 / Math.Sqrt(channels + 2);
            using var span = (2 * bound).ToScalar();
            using var low = bound.ToScalar();
            weight.copy_(rand(new[] { channels, channels + 2 }, generator: generator).mul_(span).sub_(low));
            bias.copy_(rand(new[] { channels }, generator: generator).mul_(span).sub_(low));
        }
        RegisterComponents();
    }

    /// <summary>The feature width C.</summary>
    public long Channels => bias.shape[0];
    /// <summary>The grid positions P = h·w.</summary>
    public long Positions => _height * _width;
    /// <summary>Whether the memory bank has been computed.</summary>
    public bool Initialized
    {
        get
        {
            using var flag = initialized.to(float64);
            return flag.item<double>() > 0;
        }
    }

    /// <summary>The coordinate channels [1,2,h,w]: row then column, each −1 at the first position and 1 at the last.</summary>
    public Tensor Coordinates(ScalarType dtype = ScalarType.Float32)
    {
        using var scope = NewDisposeScope();
        using var two = 2.0.ToScalar();
        using var one = 1.0.ToScalar();
        using var lastRow = ((double)(_height - 1)).ToScalar();
        using var lastCol = ((double)(_width - 1)).ToScalar();
        var rows = arange(_height, dtype).div_(lastRow).mul_(two).sub_(one).view(_height, 1).expand(_height, _width);
        var cols = arange(_width, dtype).div_(lastCol).mul_(two).sub_(one).view(1, _width).expand(_height, _width);
        return stack(new[] { rows, cols }).unsqueeze(0).MoveToOuterDisposeScope();
    }

    /// <summary>Target-oriented features [N,C,h,w] of patch features [N,C,h,w].</summary>
    public override Tensor forward(Tensor patches)
    {
        using var scope = NewDisposeScope();
        var coords = Coordinates(patches.dtype).expand(patches.shape[0], 2, _height, _width);
        var input = cat(new[] { patches, coords }, 1);
        return nn.functional.conv2d(input, weight.view(weight.shape[0], weight.shape[1], 1, 1), bias).MoveToOuterDisposeScope();
    }

    /// <summary>Sets the memory bank to the mean of the outputs for every training image (without gradients).</summary>
    public void Initialize(IEnumerable<Tensor> patchBatches)
    {
        using var noGrad = no_grad();
        using var sum = zeros(Channels, Positions, dtype: float64);
        long count = 0;
        foreach (var patches in patchBatches)
            using (var scope = NewDisposeScope())
            {
                sum.add_(forward(patches).to(float64).sum(dim: 0).flatten(1));
                count += patches.shape[0];
            }
        if (count == 0) throw new AnomalySharpException("cfa: no training images to build the memory bank from");
        using var n = ((double)count).ToScalar();
        using var mean = sum.div(n);
        using var done = 1.0.ToScalar();
        memory.copy_(mean);
        initialized.fill_(done);
    }

    /// <summary>The memory bank [C,P] (owned by the module).</summary>
    public Tensor Memory => memory;

    /// <summary>The 1×1 kernel's columns for the patch features [C,C] and for the coordinates [C,2], and the bias [C].</summary>
    public (Tensor Features, Tensor Coordinates, Tensor Bias) Kernel()
    {
        using var scope = NewDisposeScope();
        long c = Channels;
        var w = weight.detach();
        return (w.narrow(1, 0, c).contiguous().MoveToOuterDisposeScope(), w.narrow(1, c, 2).contiguous().MoveToOuterDisposeScope(),
            bias.detach().clone().MoveToOuterDisposeScope());
    }
}
