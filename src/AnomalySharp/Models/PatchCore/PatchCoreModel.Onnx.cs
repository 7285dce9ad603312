using AnomalySharp.Backbones;
using AnomalySharp.Components;
using AnomalySharp.Graphs;
using AnomalySharp.Runtime;
using static TorchSharp.torch;

namespace AnomalySharp.Models.PatchCore;

internal sealed partial class PatchCoreModel
{
    /// <summary>Bank rows per distance block in an exported graph: one block's distances for one image stay ~16 MB.</summary>
    const long ExportBlockRows = 4096;

    /// <inheritdoc />
    /// <remarks>
    /// Exact search: one image at a time, since it is memory-bound, so batch 16 is no faster than batch 1 (3.8 vs 4.7
    /// images/s measured), while ONNX Runtime's peak grew to 11.7 GB for a 78k-patch bank (1.3 GB at batch 1).
    /// The inverted-file search holds only a few lists' distances per patch, so it runs small batches: 4, because on
    /// magnetic_tile's test set `test` took 35.2 / 35.5 / 35.3 s at batches of 4 / 8 / 16 while ONNX Runtime's arena
    /// made the evaluation stage peak at 1.39 / 1.58 / 2.17 GB.
    /// </remarks>
    public int OnnxMaxBatch => _index is null ? 1 : 4;

    /// <inheritdoc />
    /// <remarks>
    /// The bank is stored once ([K,D] float32). With <c>model.search: exact</c> the graph searches it exactly, in blocks
    /// of <see cref="ExportBlockRows"/> rows (‖q‖² + ‖b‖² − 2·q·bᵀ, minimum and arg-minimum per block, then over blocks),
    /// so memory per image stays bounded; the per-block transposes and norms depend only on the bank and are
    /// constant-folded by ONNX Runtime when the session is created. By default <see cref="BankIndex.AppendSearch"/>
    /// searches a few lists of it instead, and <see cref="AppendRefinement"/> searches the highest patches again. The image score is the
    /// paper's re-weighting (eq. 7): the most anomalous patch's distance, scaled down when its nearest bank patch sits in a dense
    /// neighbourhood of the bank.
    /// </remarks>
    public (string Maps, string Scores) AppendOnnx(OnnxGraph g, string images, int imageSize)
    {
        if (_bank is null) throw new InvalidOperationException("patchcore is not fitted");
        if (_backbone is not IOnnxBackbone exportable) throw new AnomalySharpException($"backbone {_backbone.Name} cannot be exported "
            + $"to ONNX");
        using var scope = NewDisposeScope();
        string rows = AppendPatchRows(g, exportable.AppendOnnx(g, images, _layers), imageSize, out long h, out long w);  // [N·P,D]
        long d = FeatureDim, p = h * w, k = _bank.shape[0];
        string q = g.Node("Reshape", new[] { rows, g.Ints(-1, p, d) });                                 // [N,P,D]

        string bank = g.Constant("patchcore_memory_bank", _bank);                                      // [K,D]
        List<(string MinusTwoBt, string Norms)> blockTerms = new();
        // [N·P]
        string rowNorms = g.Node("Reshape", new[] { g.SumSquaresLast(rows), g.Ints(-1) });
        var (squared, nnIndex) = _index is null ? AppendExactSearch(g, rows, rowNorms, bank, k, blockTerms)
            : _index.AppendSearch(g, rows, rowNorms, _bank, bank, _searchProbes, _searchRerank);
        // [N,P]
        squared = g.Node("Reshape", new[] { squared, g.Ints(-1, p) });
        // [N,P]
        nnIndex = g.Node("Reshape", new[] { nnIndex, g.Ints(-1, p) });
        // The second pass probes more lists than the first; when the first probed all of them it would find the same.
        if (_index is not null && _refinePatches > 0 && _refineProbes > _searchProbes && _index.Lists > _searchProbes)
            (squared, nnIndex) = AppendRefinement(g, q, rowNorms, bank, squared, nnIndex, p, d);
        // [N,P]
        string patchScores = g.SafeSqrt(squared);

        // Re-weighted image score (PatchCore eq. 7).
        string maxScore = g.Node("ReduceMax", new[] { patchScores }, OnnxGraph.Attrs("axes", 1L), OnnxGraph.Attr("keepdims", 0L));    // [N]
        // [N,1]
        string maxPos = g.Node("ArgMax", new[] { patchScores }, OnnxGraph.Attr("axis", 1L), OnnxGraph.Attr("keepdims", 1L));
        // [N,1,D]
        string gatherIndex = g.Node("Expand", new[] { g.Node("Unsqueeze", new[] { maxPos, g.Ints(2) }), g.Ints(1, 1, d) });
        // [N,1,D]
        string maxFeatures = g.Node("GatherElements", new[] { q, gatherIndex }, OnnxGraph.Attr("axis", 1L));
        // [N]
        string nnOfMax = g.Node("Reshape", new[] { g.Node("GatherElements", new[] { nnIndex, maxPos }, OnnxGraph.Attr("axis", 1L)),
            g.Ints(-1) });
        // [N,k]
        string support;
        if (_index is null)
        {
            // [N,D]
            string centre = g.Node("Gather", new[] { bank, nnOfMax }, OnnxGraph.Attr("axis", 0L));
            // [N,1]
            string centreNorms = g.SumSquaresLast(centre);
            var toBank = blockTerms.Select(t => g.Node("Add", new[] { g.Node("Add", new[] { g.Node("MatMul", new[] { centre,
                t.MinusTwoBt }), t.Norms }), centreNorms })).ToArray();
            // [N,K]
            string all = toBank.Length == 1 ? toBank[0] : g.Node("Concat", toBank, OnnxGraph.Attr("axis", 1L));
            support = g.Node("TopK", new[] { all, g.Ints(Math.Min(_numNeighbors, k)) }, 2, OnnxGraph.Attr("axis", 1L),
                OnnxGraph.Attr("largest", 0L), OnnxGraph.Attr("sorted", 1L))[1];
        }
        else
            support = g.Node("Gather", new[] { g.Constant("patchcore_support", _index.Support.data<long>().ToArray(),
                _index.Support.shape), nnOfMax }, OnnxGraph.Attr("axis", 0L));
        // [N,k,D]
        string supportFeatures = g.Node("Gather", new[] { bank, support }, OnnxGraph.Attr("axis", 0L));
        string distances = g.SafeSqrt(g.Node("ReduceSumSquare", new[] { g.Node("Sub", new[] { supportFeatures, maxFeatures }) },
            // [N,k]
            OnnxGraph.Attrs("axes", 2L), OnnxGraph.Attr("keepdims", 0L)));
        string first = g.Node("Reshape", new[] { g.Node("Slice", new[] { g.Node("Softmax", new[] { distances }, OnnxGraph.Attr("axis",
            1L)), g.Ints(0), g.Ints(1), g.Ints(1) }), g.Ints(-1) });
        string scores = g.Node("Mul", new[] { g.Node("Sub", new[] { g.Scalar(1f), first }), maxScore });

        string map = g.Node("Reshape", new[] { patchScores, g.Ints(0, 1, h, w) });
        string maps = _blur.AppendOnnx(g, g.Resize(map, imageSize, imageSize, bilinear: true), imageSize, imageSize);
        return (maps, scores);
    }

    /// <summary>
    /// The image score is the largest patch distance, so a missed neighbour on one patch of a good image raises its
    /// score: the <c>search_refine_patches</c> highest patches of every image are searched again with
    /// <c>search_refine_probes</c> lists (a superset of the first probes, so a distance only falls), and written back.
    /// </summary>
    (string Squared, string Index) AppendRefinement(OnnxGraph g, string q, string rowNorms, string bank, string squared, string index,
        long p, long d)
    {
        long t = Math.Min(_refinePatches, p);
        // [N,T]
        string top = g.Node("TopK", new[] { squared, g.Ints(t) }, 2, OnnxGraph.Attr("axis", 1L), OnnxGraph.Attr("largest", 1L),
            OnnxGraph.Attr("sorted", 0L))[1];
        string features = g.Node("GatherElements", new[] { q, g.Node("Expand", new[] { g.Node("Unsqueeze", new[] { top, g.Ints(2) }),
            g.Ints(1, 1, d) }) },
            // [N,T,D]
            OnnxGraph.Attr("axis", 1L));
        string norms = g.Node("GatherElements", new[] { g.Node("Reshape", new[] { rowNorms, g.Ints(-1, p) }), top },
            OnnxGraph.Attr("axis", 1L));
        var (again, againIndex) = _index!.AppendSearch(g, g.Node("Reshape", new[] { features, g.Ints(-1, d) }), g.Node("Reshape",
            new[] { norms, g.Ints(-1) }),
            _bank!, bank, _refineProbes, _searchRerank);
        string refined = g.Node("Reshape", new[] { again, g.Ints(-1, t) });
        string refinedIndex = g.Node("Reshape", new[] { againIndex, g.Ints(-1, t) });
        return (g.Node("ScatterElements", new[] { squared, top, refined }, OnnxGraph.Attr("axis", 1L)),
            g.Node("ScatterElements", new[] { index, top, refinedIndex }, OnnxGraph.Attr("axis", 1L)));
    }

    /// <summary>Locally aware patch features [N·P,D] from the backbone's layer outputs; the grid is <paramref name="h"/>×<paramref
    /// name="w"/>.</summary>
    string AppendPatchRows(OnnxGraph g, IReadOnlyList<string> features, int imageSize, out long h, out long w)
    {
        using (var blank = zeros(1, 3, imageSize, imageSize))
        using (var probe = Embed(blank)) { h = probe.shape[2]; w = probe.shape[3]; }
        var sameGrid = _layers.Select(l => _backbone.Stride(l) == _backbone.Stride(_layers[0])).ToArray();
        string embedding = LocalPatchFeatures.AppendOnnx(g, features, sameGrid, h, w);
        return g.Node("Reshape", new[] { g.Node("Transpose", new[] { embedding }, OnnxGraph.Attrs("perm", 0L, 2L, 3L, 1L)), g.Ints(-1,
            FeatureDim) });
    }

    /// <summary>
    /// Exact search of patches <paramref name="q"/> [M,D] (squared norms <paramref name="qNorms"/> [M]) in blocks of
    /// <see cref="ExportBlockRows"/> bank rows: min ‖q−b‖² [M] and its bank row [M]; <paramref name="blockTerms"/> are the blocks' −2·bᵀ
    /// and ‖b‖², for the re-weighting.
    /// </summary>
    static (string Distances, string Index) AppendExactSearch(OnnxGraph g, string q, string qNorms, string bank, long k,
        List<(string MinusTwoBt, string Norms)> blockTerms)
    {
        var blockMins = new List<string>(); var blockArgs = new List<string>();
        for (long start = 0; start < k; start += ExportBlockRows)
        {
            long len = Math.Min(ExportBlockRows, k - start);
            string rows = g.Node("Slice", new[] { bank, g.Ints(start), g.Ints(start + len), g.Ints(0) });
            // [D,len]
            string minusTwoBt = g.Node("Mul", new[] { g.Node("Transpose", new[] { rows }, OnnxGraph.Attrs("perm", 1L, 0L)),
                g.Scalar(-2f) });
            string norms = g.Node("Reshape", new[] { g.SumSquaresLast(rows), g.Ints(len) });             // [len]
            blockTerms.Add((minusTwoBt, norms));
            // ‖q‖² is the same for every bank row, so it is added after the minimum: one [M,len] tensor less per block.
            string d2 = g.Node("Add", new[] { g.Node("MatMul", new[] { q, minusTwoBt }), norms });        // [M,len]
            blockMins.Add(g.Node("ReduceMin", new[] { d2 }, OnnxGraph.Attrs("axes", -1L), OnnxGraph.Attr("keepdims", 1L)));
            string arg = g.Node("ArgMin", new[] { d2 }, OnnxGraph.Attr("axis", -1L), OnnxGraph.Attr("keepdims", 1L));
            blockArgs.Add(start == 0 ? arg : g.Node("Add", new[] { arg, g.Constant("offset", new[] { start }, 1) }));
        }
        string mins = blockMins.Count == 1 ? blockMins[0] : g.Node("Concat", blockMins.ToArray(), OnnxGraph.Attr("axis", -1L));
        string args = blockArgs.Count == 1 ? blockArgs[0] : g.Node("Concat", blockArgs.ToArray(), OnnxGraph.Attr("axis", -1L));
        string best = g.Node("ArgMin", new[] { mins }, OnnxGraph.Attr("axis", -1L), OnnxGraph.Attr("keepdims", 1L));
        string index = g.Node("Reshape", new[] { g.Node("GatherElements", new[] { args, best }, OnnxGraph.Attr("axis", -1L)), g.Ints(-1) });
        string minusNorms = g.Node("Reshape", new[] { g.Node("ReduceMin", new[] { mins }, OnnxGraph.Attrs("axes", -1L),
            OnnxGraph.Attr("keepdims", 1L)), g.Ints(-1) });
        return (g.Node("Add", new[] { minusNorms, qNorms }), index);
    }
}
