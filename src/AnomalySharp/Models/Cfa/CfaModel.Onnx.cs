using AnomalySharp.Components;
using AnomalySharp.Graphs;
using AnomalySharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace AnomalySharp.Models.Cfa;

/// <summary>CFA's one inference graph: patch features, the descriptor, a full search of the memory bank, the softmin-weighted
/// nearest distance per position.</summary>
internal sealed partial class CfaModel
{
    /// <summary>Positions searched per block: each block's distances are [N, this, P] (at 256 px, 16 MB per image).</summary>
    const long QueryBlock = 1024;

    /// <inheritdoc />
    /// <remarks>The image score is the maximum of the map.</remarks>
    public override bool ScoreIsMapMax => true;

    /// <inheritdoc />
    public override (string Maps, string Scores) AppendOnnx(OnnxGraph g, string images, int imageSize)
    {
        if (imageSize != ImageSize) throw new ArgumentException($"cfa was built for {ImageSize} px images, not {imageSize}",
            nameof(imageSize));
        var features = AppendBackboneOnnx(g, images);
        string patches = LocalPatchFeatures.AppendOnnx(g, features, features.Select((_, i) => i == 0).ToArray(), _height, _width);
        long c = _descriptor.Channels, p = _height * _width;
        var (kernel, coordKernel, bias) = _descriptor.Kernel();
        string target;
        using (kernel)
        using (coordKernel)
        using (bias)
        using (var scope = NewDisposeScope())
        {
            // The coordinate channels are the same for every image: their share of the 1×1 convolution, plus the bias, is one
            // constant [1,C,h,w] added to the convolution of the patch features.
            var coords = _descriptor.Coordinates().view(2, p);
            var positional = coordKernel.mm(coords).add_(bias.view(c, 1)).view(1, c, _height, _width);
            string conv = g.Node("Conv", new[] { patches, g.Constant("cfa_kernel", kernel.view(c, c, 1, 1)) });
            target = g.Node("Add", new[] { conv, g.Constant("cfa_positional", positional) });
        }
        // [N,P,C] and its squared norms [N,P,1]
        string rows = g.Node("Transpose", new[] { g.Node("Reshape", new[] { target, g.Ints(0, c, p) }) },
            OnnxGraph.Attrs("perm", 0L, 2L, 1L));
        string norms = g.SumSquaresLast(rows);
        string minusTwoBank, bankNorms;
        using (var scope = NewDisposeScope())
        {
            var memory = _descriptor.Memory;
            using var minusTwo = (-2.0).ToScalar();
            minusTwoBank = g.Constant("cfa_bank_minus_two", memory.mul(minusTwo));                     // [C,P]
            bankNorms = g.Constant("cfa_bank_norms", memory.square().sum(dim: 0));                          // [P]
        }
        var nearest = new List<string>();
        for (long start = 0; start < p; start += QueryBlock)
        {
            long end = Math.Min(p, start + QueryBlock);
            string block = p <= QueryBlock ? rows : g.Node("Slice", new[] { rows, g.Ints(start), g.Ints(end), g.Ints(1) });
            string blockNorms = p <= QueryBlock ? norms : g.Node("Slice", new[] { norms, g.Ints(start), g.Ints(end), g.Ints(1) });
            string squared = g.Node("Add", new[] { g.Node("Add", new[] { g.Node("MatMul", new[] { block, minusTwoBank }), bankNorms }),
                blockNorms });                                                                                      // [N,Q,P]
            nearest.Add(g.Node("TopK", new[] { squared, g.Ints(_nearest) }, 2, OnnxGraph.Attr("axis", -1L),
                OnnxGraph.Attr("largest", 0L), OnnxGraph.Attr("sorted", 1L))[0]);                                    // [N,Q,K]
        }
        string top = nearest.Count == 1 ? nearest[0] : g.Node("Concat", nearest.ToArray(), OnnxGraph.Attr("axis", 1L));
        string distances = g.SafeSqrt(top);                                                                         // [N,P,K]
        string weights = g.Node("Softmax", new[] { g.Node("Neg", new[] { distances }) }, OnnxGraph.Attr("axis", -1L));
        string first(string x) => g.Node("Slice", new[] { x, g.Ints(0), g.Ints(1), g.Ints(2) });
        string score = g.Node("Mul", new[] { first(weights), first(distances) });                                 // [N,P,1]
        string map = g.Node("Reshape", new[] { score, g.Ints(0, 1, _height, _width) });
        string maps = _blur.AppendOnnx(g, g.Resize(map, imageSize, imageSize, bilinear: true), imageSize, imageSize);
        return (maps, g.ReduceMax(maps, 1, 2, 3));
    }
}
