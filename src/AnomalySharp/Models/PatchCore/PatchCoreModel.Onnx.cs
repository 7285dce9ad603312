using AnomalySharp.Runtime;
using AnomalySharp.Backbones;
using AnomalySharp.Export;
using static TorchSharp.torch;

namespace AnomalySharp.Models.PatchCore;

public sealed partial class PatchCoreModel
{
    /// <summary>Bank rows per distance block in an exported graph: one block's distances for one image stay ~16 MB.</summary>
    const long ExportBlockRows = 4096;

    /// <inheritdoc />
    /// <remarks>
    /// One image at a time: the exact search is memory-bound, so batch 16 is no faster than batch 1 (3.8 vs 4.7
    /// images/s measured), while ONNX Runtime's peak grew to 11.7 GB for a 78k-patch bank (1.3 GB at batch 1).
    /// </remarks>
    public int OnnxMaxBatch => 1;

    /// <inheritdoc />
    /// <remarks>
    /// The bank is stored once ([K,D] float32). The graph searches it exactly, in blocks of <see cref="ExportBlockRows"/>
    /// rows (‖q‖² + ‖b‖² − 2·q·bᵀ, minimum and arg-minimum per block, then over blocks), so memory per image stays
    /// bounded; the per-block transposes and norms depend only on the bank and are constant-folded by ONNX Runtime
    /// when the session is created. The image score is the paper's re-weighting (eq. 7): the most anomalous patch's distance, scaled down when its nearest bank patch sits in a dense neighbourhood of the bank.
    /// </remarks>
    public (string Maps, string Scores) AppendOnnx(OnnxGraph g, string images, int imageSize)
    {
        if (_bank is null) throw new InvalidOperationException("patchcore is not fitted");
        if (_backbone is not IOnnxBackbone exportable) throw new AnomalySharpException($"backbone {_backbone.Name} cannot be exported to ONNX");
        using var scope = NewDisposeScope();
        long h, w;
        using (var blank = zeros(1, 3, imageSize, imageSize))
        using (var probe = Embed(blank)) { h = probe.shape[2]; w = probe.shape[3]; }
        long d = FeatureDim, p = h * w, k = _bank.shape[0];

        // Locally aware patch features [N,P,D].
        var features = exportable.AppendOnnx(g, images, _layers);
        var pooled = features.Select((f, i) =>
        {
            string a = g.Node("AveragePool", new[] { f }, OnnxGraph.Attrs("kernel_shape", 3L, 3L), OnnxGraph.Attrs("strides", 1L, 1L),
                OnnxGraph.Attrs("pads", 1L, 1L, 1L, 1L), OnnxGraph.Attr("count_include_pad", 1L));
            return _backbone.Stride(_layers[i]) == _backbone.Stride(_layers[0]) ? a : g.Resize(a, h, w, bilinear: true);
        }).ToArray();
        string embedding = g.Node("Concat", pooled, OnnxGraph.Attr("axis", 1L));
        string q = g.Node("Reshape", new[] { g.Node("Transpose", new[] { embedding }, OnnxGraph.Attrs("perm", 0L, 2L, 3L, 1L)), g.Ints(0, p, d) });
        string qNorms = g.SumSquaresLast(q);                                                           // [N,P,1]

        // Nearest bank row of every patch, block by block.
        string bank = g.Constant("patchcore_memory_bank", _bank);                                      // [K,D]
        var blockMins = new List<string>(); var blockArgs = new List<string>(); var blockTerms = new List<(string MinusTwoBt, string Norms)>();
        for (long start = 0; start < k; start += ExportBlockRows)
        {
            long len = Math.Min(ExportBlockRows, k - start);
            string rows = g.Node("Slice", new[] { bank, g.Ints(start), g.Ints(start + len), g.Ints(0) });
            string minusTwoBt = g.Node("Mul", new[] { g.Node("Transpose", new[] { rows }, OnnxGraph.Attrs("perm", 1L, 0L)), g.Scalar(-2f) }); // [D,len]
            string norms = g.Node("Reshape", new[] { g.SumSquaresLast(rows), g.Ints(len) });             // [len]
            blockTerms.Add((minusTwoBt, norms));
            // ‖q‖² is the same for every bank row, so it is added after the minimum: one [N,P,len] tensor less per block.
            string d2 = g.Node("Add", new[] { g.Node("MatMul", new[] { q, minusTwoBt }), norms });        // [N,P,len], minus ‖q‖²
            blockMins.Add(g.Node("ReduceMin", new[] { d2 }, OnnxGraph.Attrs("axes", -1L), OnnxGraph.Attr("keepdims", 1L)));
            string arg = g.Node("ArgMin", new[] { d2 }, OnnxGraph.Attr("axis", -1L), OnnxGraph.Attr("keepdims", 1L));
            blockArgs.Add(start == 0 ? arg : g.Node("Add", new[] { arg, g.Constant("offset", new[] { start }, 1) }));
        }
        string mins = blockMins.Count == 1 ? blockMins[0] : g.Node("Concat", blockMins.ToArray(), OnnxGraph.Attr("axis", -1L));
        string args = blockArgs.Count == 1 ? blockArgs[0] : g.Node("Concat", blockArgs.ToArray(), OnnxGraph.Attr("axis", -1L));
        string best = g.Node("ArgMin", new[] { mins }, OnnxGraph.Attr("axis", -1L), OnnxGraph.Attr("keepdims", 1L));
        string nnIndex = g.Node("Reshape", new[] { g.Node("GatherElements", new[] { args, best }, OnnxGraph.Attr("axis", -1L)), g.Ints(0, p) });   // [N,P]
        string nearest = g.Node("Add", new[] { g.Node("ReduceMin", new[] { mins }, OnnxGraph.Attrs("axes", -1L), OnnxGraph.Attr("keepdims", 1L)), qNorms });
        string patchScores = g.Node("Reshape", new[] { g.SafeSqrt(nearest), g.Ints(0, p) });                                          // [N,P]

        // Re-weighted image score (PatchCore eq. 7).
        string maxScore = g.Node("ReduceMax", new[] { patchScores }, OnnxGraph.Attrs("axes", 1L), OnnxGraph.Attr("keepdims", 0L));    // [N]
        string maxPos = g.Node("ArgMax", new[] { patchScores }, OnnxGraph.Attr("axis", 1L), OnnxGraph.Attr("keepdims", 1L));          // [N,1]
        string gatherIndex = g.Node("Expand", new[] { g.Node("Unsqueeze", new[] { maxPos, g.Ints(2) }), g.Ints(1, 1, d) });          // [N,1,D]
        string maxFeatures = g.Node("GatherElements", new[] { q, gatherIndex }, OnnxGraph.Attr("axis", 1L));                           // [N,1,D]
        string nnOfMax = g.Node("Reshape", new[] { g.Node("GatherElements", new[] { nnIndex, maxPos }, OnnxGraph.Attr("axis", 1L)), g.Ints(-1) }); // [N]
        string centre = g.Node("Gather", new[] { bank, nnOfMax }, OnnxGraph.Attr("axis", 0L));                                         // [N,D]
        string centreNorms = g.SumSquaresLast(centre);                                                                                 // [N,1]
        var toBank = blockTerms.Select(t => g.Node("Add", new[] { g.Node("Add", new[] { g.Node("MatMul", new[] { centre, t.MinusTwoBt }), t.Norms }), centreNorms })).ToArray();
        string all = toBank.Length == 1 ? toBank[0] : g.Node("Concat", toBank, OnnxGraph.Attr("axis", 1L));                           // [N,K]
        long kk = Math.Min(_numNeighbors, k);
        string support = g.Node("TopK", new[] { all, g.Ints(kk) }, 2, OnnxGraph.Attr("axis", 1L), OnnxGraph.Attr("largest", 0L), OnnxGraph.Attr("sorted", 1L))[1]; // [N,k]
        string supportFeatures = g.Node("Gather", new[] { bank, support }, OnnxGraph.Attr("axis", 0L));                                // [N,k,D]
        string distances = g.SafeSqrt(g.Node("ReduceSumSquare", new[] { g.Node("Sub", new[] { supportFeatures, maxFeatures }) },
            OnnxGraph.Attrs("axes", 2L), OnnxGraph.Attr("keepdims", 0L)));                                                             // [N,k]
        string first = g.Node("Reshape", new[] { g.Node("Slice", new[] { g.Node("Softmax", new[] { distances }, OnnxGraph.Attr("axis", 1L)), g.Ints(0), g.Ints(1), g.Ints(1) }), g.Ints(-1) });
        string scores = g.Node("Mul", new[] { g.Node("Sub", new[] { g.Scalar(1f), first }), maxScore });

        string map = g.Node("Reshape", new[] { patchScores, g.Ints(0, 1, h, w) });
        string maps = _blur.AppendOnnx(g, g.Resize(map, imageSize, imageSize, bilinear: true), imageSize, imageSize);
        return (maps, scores);
    }
}
