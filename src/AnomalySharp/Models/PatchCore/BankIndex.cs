using AnomalySharp.Graphs;
using AnomalySharp.Runtime;
using static TorchSharp.torch;

namespace AnomalySharp.Models.PatchCore;

/// <summary>
/// An inverted-file index over PatchCore's memory bank, so that a patch is compared with a few lists of the bank
/// instead of all of it. Fit clusters the bank with seeded k-means into lists and stores the bank list by list;
/// the graph sends every patch to its <c>probes</c> nearest lists and searches them exactly, one matrix product per
/// list over the patches that chose it. The k nearest bank rows of every bank row (the support of the paper's
/// re-weighted image score) are found once here, so the graph only gathers them.
/// </summary>
internal sealed class BankIndex : IDisposable
{
    const int KMeansIterations = 25;
    const long ChunkRows = 16384;

    /// <summary>The fewest bank rows per list: a smaller bank gets fewer lists (at least one). 64 lists over a tile's 77-row
    /// bank (centres of one or two rows) made a graph that took seconds to load and searched no faster than the bank.</summary>
    public const long MinRowsPerList = 64;

    /// <summary>List centres [L,D] float32.</summary>
    public Tensor Centroids { get; }
    /// <summary>Start of every list in the bank, and the bank's length last: [L+1] int64.</summary>
    public Tensor Offsets { get; }
    /// <summary>The nearest bank rows of every bank row, itself first: [K,k] int64.</summary>
    public Tensor Support { get; }
    /// <summary>With a reduced first pass: the bank's mean [D] and its leading principal axes [D,d]; otherwise null.</summary>
    public (Tensor Mean, Tensor Basis)? Projection { get; }

    BankIndex(Tensor centroids, Tensor offsets, Tensor support, (Tensor Mean, Tensor Basis)? projection)
    {
        Centroids = centroids.DetachFromDisposeScope();
        Offsets = offsets.DetachFromDisposeScope();
        Support = support.DetachFromDisposeScope();
        if (projection is { } pr) Projection = (pr.Mean.DetachFromDisposeScope(), pr.Basis.DetachFromDisposeScope());
    }

    /// <summary>Clusters <paramref name="bank"/> [K,D] into at most <paramref name="lists"/> lists, one per <see cref="MinRowsPerList"/>
    /// rows at most (empty ones dropped), and returns the bank reordered list by list with its index.</summary>
    public static (Tensor Bank, BankIndex Index) Build(Tensor bank, int lists, int probes, int neighbors, int seed, int dims)
    {
        using var scope = NewDisposeScope();
        var x = bank.to_type(ScalarType.Float32).contiguous();
        long k = x.shape[0];
        int l = (int)Math.Max(1, Math.Min(lists, k / MinRowsPerList));
        using var generator = new TorchSharp.torch.Generator((ulong)seed);
        var centroids = x.index_select(0, randperm(k, generator: generator).narrow(0, 0, l)).clone();
        Tensor assign = Assign(x, centroids);
        for (int iteration = 0; iteration < KMeansIterations; iteration++)
        {
            // Each iteration's temporaries go with it: left to Build's scope, the int64 one-hot matrix (40 MB on
            // magnetic_tile) piled up 25 times and made the index build fit's peak (+1.3 GB).
            Tensor moved, next;
            using (var iterationScope = NewDisposeScope())
            {
                var oneHot = nn.functional.one_hot(assign, l).t().to_type(ScalarType.Float32);
                var counts = oneHot.sum(1, keepdim: true);
                var sums = oneHot.mm(x);
                // An empty list keeps its centre; it is dropped after the last iteration.
                moved = where(counts > 0, sums / counts.clamp_min(1), centroids).MoveToOuterDisposeScope();
                next = Assign(x, moved).MoveToOuterDisposeScope();
            }
            centroids.Dispose();
            centroids = moved;
            bool settled = Same(next, assign);
            assign.Dispose();
            assign = next;
            if (settled) break;
        }

        var sizes = bincount(assign, minlength: l);
        var kept = sizes.gt(0).nonzero().flatten();
        centroids = centroids.index_select(0, kept);
        // Renumber the lists without the empty ones, then store the bank list by list (stable, so ties keep fit order).
        var renumber = full(l, -1L, dtype: ScalarType.Int64).index_put_(arange(kept.shape[0], dtype: ScalarType.Int64), kept);
        assign = renumber.index_select(0, assign);
        var order = assign.sort(stable: true).Indices;
        var ordered = x.index_select(0, order);
        var offsets = cat(new[] { zeros(1, dtype: ScalarType.Int64), sizes.index_select(0, kept).cumsum(0) });
        // The support search looks at least at the two nearest lists: a row near its list's border has neighbours across it.
        var support = SupportOf(ordered, centroids, offsets, Math.Max(probes, 2), (int)Math.Min(neighbors, k));
        var result = bank.dtype == ScalarType.Float32 ? ordered : ordered.to_type(bank.dtype);
        (Tensor, Tensor)? projection = null;
        if (dims > 0 && dims < x.shape[1])
        {
            // Principal axes of the bank (eigenvectors of its covariance, largest first), sign fixed for determinism.
            var mean = x.mean(new long[] { 0 });
            var centred = x - mean;
            var (_, vectors) = linalg.eigh(centred.t().mm(centred).to_type(ScalarType.Float64));
            var basis = vectors.flip(1).narrow(1, 0, dims);
            var signs = basis.gather(0, basis.abs().argmax(0, keepdim: true)).sign();
            projection = (mean.MoveToOuterDisposeScope(),
                (basis * signs).to_type(ScalarType.Float32).contiguous().MoveToOuterDisposeScope());
        }
        return (result.MoveToOuterDisposeScope(), new BankIndex(centroids.MoveToOuterDisposeScope(), offsets.MoveToOuterDisposeScope(),
            support.MoveToOuterDisposeScope(), projection));
    }

    /// <summary>The index of a saved model; throws <see cref="InvalidOperationException"/> when it does not fit the bank.</summary>
    public static BankIndex FromState(Tensor bank, Tensor centroids, Tensor offsets, Tensor support, Tensor? mean, Tensor? basis)
    {
        if ((mean is null) != (basis is null) || mean is not null && (mean.dim() != 1 || mean.shape[0] != bank.shape[1]
            || basis!.dim() != 2 || basis.shape[0] != bank.shape[1] || basis.shape[1] < 1 || basis.shape[1] > bank.shape[1]))
            throw new InvalidOperationException("patchcore search projection does not match its memory bank");
        long k = bank.shape[0], l = centroids.shape[0];
        if (centroids.dim() != 2 || centroids.shape[1] != bank.shape[1] || offsets.dtype != ScalarType.Int64 || offsets.shape[0] != l + 1
            || support.dtype != ScalarType.Int64 || support.dim() != 2 || support.shape[0] != k)
            throw new InvalidOperationException("patchcore search index does not match its memory bank");
        var o = offsets.data<long>().ToArray();
        if (o[0] != 0 || o[^1] != k || o.Zip(o.Skip(1)).Any(p => p.Second <= p.First))
            throw new InvalidOperationException("patchcore search index has invalid list offsets");
        using (var bad = support.lt(0).logical_or(support.ge(k)).any())
            if (bad.item<bool>()) throw new InvalidOperationException("patchcore search index has a neighbour outside the bank");
        return new BankIndex(centroids.to_type(ScalarType.Float32), offsets, support,
            mean is null ? null : (mean.to_type(ScalarType.Float32), basis!.to_type(ScalarType.Float32)));
    }

    static bool Same(Tensor a, Tensor b)
    {
        using var eq = a.eq(b);
        using var e = eq.all();
        return e.item<bool>();
    }

    // The constants already added to a graph, so that a second search in the same graph shares them. Weak keys: a
    // graph holds the bank's bytes, and the index must not keep it alive after its session is built.
    readonly System.Runtime.CompilerServices.ConditionalWeakTable<OnnxGraph, Dictionary<string, string>> _constants = new();

    /// <summary>Number of lists.</summary>
    public long Lists => Centroids.shape[0];

    /// <summary>Nearest centre of every row, in chunks of <see cref="ChunkRows"/> rows.</summary>
    static Tensor Assign(Tensor x, Tensor centroids)
    {
        using var scope = NewDisposeScope();
        var minusTwoCt = centroids.t().mul(-2f);
        var norms = centroids.pow(2).sum(1);
        var parts = new List<Tensor>();
        for (long start = 0; start < x.shape[0]; start += ChunkRows)
            parts.Add(x.narrow(0, start, Math.Min(ChunkRows, x.shape[0] - start)).mm(minusTwoCt).add_(norms).argmin(1));
        return cat(parts).MoveToOuterDisposeScope();
    }

    /// <summary>Rows of one list whose distances to its candidates are computed at once.</summary>
    const long SupportBlock = 1024;

    /// <summary>For every bank row, its <paramref name="neighbors"/> nearest rows among the lists nearest its own list's centre.</summary>
    static Tensor SupportOf(Tensor bank, Tensor centroids, Tensor offsets, int probes, int neighbors)
    {
        var o = offsets.data<long>().ToArray();
        long l = centroids.shape[0];
        using var centreDistances = cdist(centroids, centroids);
        using var nearestLists = centreDistances.topk((int)Math.Min(probes, l), largest: false).indexes;
        var lists = nearestLists.data<long>().ToArray();
        int p = (int)nearestLists.shape[1];
        var parts = new List<Tensor>();
        for (long c = 0; c < l; c++)
        {
            using var scope = NewDisposeScope();
            var candidates = cat(Enumerable.Range(0, p).Select(j => lists[c * p + j])
                .Select(list => arange(o[list], o[list + 1], dtype: ScalarType.Int64)).ToArray());
            var candidateRows = bank.index_select(0, candidates);
            var candidateNorms = candidateRows.pow(2).sum(1);
            int kk = (int)Math.Min(neighbors, candidates.shape[0]);
            // A block of the list's rows at a time: k-means lists are uneven, and one list's whole distance matrix
            // (rows × candidates) reached 560 MB on magnetic_tile, the fit's peak.
            for (long start = o[c]; start < o[c + 1]; start += SupportBlock)
            {
                using var block = NewDisposeScope();
                var rows = bank.narrow(0, start, Math.Min(SupportBlock, o[c + 1] - start));
                var d2 = rows.mm(candidateRows.t()).mul_(-2f).add_(candidateNorms).add_(rows.pow(2).sum(1, keepdim: true));
                var nearest = candidates.index_select(0, d2.topk(kk, largest: false, sorted: true).indexes.flatten()).reshape(-1, kk);
                if (kk < neighbors) nearest = cat(new[] { nearest, nearest.narrow(1, kk - 1, 1).expand(-1, neighbors - kk) }, 1);
                parts.Add(nearest.DetachFromDisposeScope());
            }
        }
        var support = cat(parts);
        foreach (var t in parts) t.Dispose();
        return support;
    }

    /// <summary>
    /// Appends the search of patches <paramref name="q"/> [M,D] (squared norms <paramref name="qNorms"/> [M]) in
    /// <paramref name="bank"/>, stored list by list: returns the squared distance [M] to the nearest bank row found
    /// in the probed lists, and that row [M] (int64); <paramref name="bankConstant"/> is the bank as a graph constant. With a projection
    /// the lists are searched in the reduced space
    /// for their <paramref name="rerank"/> nearest rows each, and those candidates are re-ranked exactly in full dimension.
    /// </summary>
    public (string Distances, string Index) AppendSearch(OnnxGraph g, string q, string qNorms, Tensor bank, string bankConstant,
        int probes, int rerank)
    {
        using var outer = NewDisposeScope();
        var o = Offsets.data<long>().ToArray();
        int p = (int)Math.Min(probes, Lists);
        int r = (int)Math.Min(rerank, o.Zip(o.Skip(1), (a, b) => b - a).Min());
        var added = _constants.GetOrCreateValue(g);
        string Const(string key, Func<Tensor> make) =>
            added.TryGetValue(key, out var name) ? name : added[key] = OnnxGraphTensors.Constant(g, "ivf_" + key, make());
        Tensor Space()
            => Projection is { } pr ? (bank.to_type(ScalarType.Float32) - pr.Mean).mm(pr.Basis) : bank.to_type(ScalarType.Float32);
        Tensor space = Space();
        var centroids = Projection is { } projection ? (Centroids - projection.Mean).mm(projection.Basis) : Centroids;
        string x = Projection is { } pj
            ? g.Node("Add", new[] { g.Node("MatMul", new[] { q, Const("basis", () => pj.Basis) }), Const("shift",
                () => pj.Mean.unsqueeze(0).mm(pj.Basis).neg().flatten()) })
            : q;
        string toCentres = g.Node("Add", new[] { g.Node("MatMul", new[] { x, Const("centroids_t", () => centroids.t().mul(-2f)) }),
            Const("centroid_norms", () => centroids.pow(2).sum(1)) });                                                         // [M,L]
        string probed = g.Node("TopK", new[] { toCentres, g.Ints(p) }, 2, OnnxGraph.Attr("axis", 1L), OnnxGraph.Attr("largest", 0L),
            OnnxGraph.Attr("sorted", 1L))[1];
        // [M·p]: list of each (patch, probe)
        string slots = g.Node("Reshape", new[] { probed, g.Ints(-1) });
        // One sentinel slot per list after the real ones (slot M·p + c belongs to list c), reading appended zero rows of x:
        // no list's block is ever empty, so no operator sees a zero-size input. ONNX leaves TopK over an empty tensor
        // unclear, and onnxruntime 1.30 dies on it with SIGFPE (an image no patch of which probes some list: a grey one).
        long lists = Lists;
        string sentinelSlots = g.Node("Concat", new[] { slots, g.Constant("list_sentinels", Enumerable.Range(0,
            (int)lists).Select(i => (long)i).ToArray(), lists) },
            // [M·p+L]
            OnnxGraph.Attr("axis", 0L));
        long padRows = (lists + p - 1) / p;
        string xPadded = g.Node("Concat", new[] { x, g.Constant("list_sentinel_rows", new float[padRows * space.shape[1]], padRows,
            space.shape[1]) },
            // [M+⌈L/p⌉,d]
            OnnxGraph.Attr("axis", 0L));
        string DropSentinels(string perSlot) => g.Node("Slice", new[] { perSlot, g.Ints(0), g.Ints(-lists), g.Ints(0) });

        // Each (patch, probe) slot belongs to exactly one list: per list, the patches that chose it, one matrix product.
        var positions = new List<string>(); var mins = new List<string>(); var rows = new List<string>();
        for (long c = 0; c < Lists; c++)
        {
            string pos = g.Node("Reshape", new[] { g.Node("NonZero", new[] { g.Node("Equal", new[] { sentinelSlots, g.Constant("list",
                new[] { c }, 1) }) }), g.Ints(-1) });
            // [m+1,d]
            string chosen = g.Node("Gather", new[] { xPadded, g.Node("Div", new[] { pos, g.Ints(p) }) }, OnnxGraph.Attr("axis", 0L));
            var members = space.narrow(0, o[c], o[c + 1] - o[c]);
            string d2 = g.Node("Add", new[] { g.Node("MatMul", new[] { chosen, Const($"list{c}_t", () => members.t().mul(-2f)) }),
                // [m,len]
                Const($"list{c}_norms", () => members.pow(2).sum(1)) });
            positions.Add(pos);
            string offset = g.Constant("offset", new[] { o[c] }, 1);
            if (Projection is null)
            {
                // One pass over the distances: the arg-minimum, then its value gathered (a ReduceMin would read them again).
                string arg = g.Node("ArgMin", new[] { d2 }, OnnxGraph.Attr("axis", 1L), OnnxGraph.Attr("keepdims", 1L));          // [m,1]
                mins.Add(g.Node("Reshape", new[] { g.Node("GatherElements", new[] { d2, arg }, OnnxGraph.Attr("axis", 1L)), g.Ints(-1) }));
                rows.Add(g.Node("Add", new[] { g.Node("Reshape", new[] { arg, g.Ints(-1) }), offset }));
            }
            else
                rows.Add(g.Node("Add", new[] { g.Node("TopK", new[] { d2, g.Ints(r) }, 2, OnnxGraph.Attr("axis", 1L),
                    OnnxGraph.Attr("largest", 0L),
                    OnnxGraph.Attr("sorted", 0L))[1], offset }));                                                                  // [m,r]
        }
        string allPos = g.Node("Concat", positions.ToArray(), OnnxGraph.Attr("axis", 0L));
        string allRows = g.Node("Concat", rows.ToArray(), OnnxGraph.Attr("axis", 0L));
        if (Projection is null)
        {
            // Every slot is written exactly once, so the scatter's initial values (the slots themselves) never survive.
            string slotMins = DropSentinels(g.Node("ScatterElements", new[] { g.Node("Cast", new[] { sentinelSlots },
                OnnxGraph.Attr("to", 1L)), allPos,
                g.Node("Concat", mins.ToArray(), OnnxGraph.Attr("axis", 0L)) }, OnnxGraph.Attr("axis", 0L)));
            string slotRows = DropSentinels(g.Node("ScatterElements", new[] { sentinelSlots, allPos, allRows }, OnnxGraph.Attr("axis",
                0L)));
            string perProbe = g.Node("Reshape", new[] { slotMins, g.Ints(-1, p) });                                              // [M,p]
            string best = g.Node("ArgMin", new[] { perProbe }, OnnxGraph.Attr("axis", 1L), OnnxGraph.Attr("keepdims", 1L));
            string minusNorms = g.Node("Reshape", new[] { g.Node("GatherElements", new[] { perProbe, best }, OnnxGraph.Attr("axis",
                1L)), g.Ints(-1) });
            string index = g.Node("Reshape", new[] { g.Node("GatherElements", new[] { g.Node("Reshape", new[] { slotRows, g.Ints(-1,
                p) }), best },
                OnnxGraph.Attr("axis", 1L)), g.Ints(-1) });
            return (g.Node("Add", new[] { minusNorms, qNorms }), index);
        }

        // Re-rank: every slot's r candidates (rows written exactly once, as above), exact distances in full dimension.
        string initial = g.Node("Expand", new[] { g.Node("Unsqueeze", new[] { sentinelSlots, g.Ints(1) }), g.Ints(1, r) });
        string slotCandidates = DropSentinels(g.Node("ScatterND", new[] { initial, g.Node("Unsqueeze", new[] { allPos, g.Ints(1) }),
            allRows }));
        // [M,p·r]
        string candidates = g.Node("Reshape", new[] { slotCandidates, g.Ints(-1, p * r) });
        string gathered = g.Node("Gather", new[] { bankConstant, candidates }, OnnxGraph.Attr("axis", 0L)); // [M,p·r,D]
        string exact = g.Node("ReduceSumSquare", new[] { g.Node("Sub", new[] { gathered, g.Node("Unsqueeze", new[] { q, g.Ints(1) }) }) },
            // [M,p·r]
            OnnxGraph.Attrs("axes", 2L), OnnxGraph.Attr("keepdims", 0L));
        string nearest = g.Node("ArgMin", new[] { exact }, OnnxGraph.Attr("axis", 1L), OnnxGraph.Attr("keepdims", 1L));
        return (g.Node("Reshape", new[] { g.Node("GatherElements", new[] { exact, nearest }, OnnxGraph.Attr("axis", 1L)), g.Ints(-1) }),
            g.Node("Reshape", new[] { g.Node("GatherElements", new[] { candidates, nearest }, OnnxGraph.Attr("axis", 1L)), g.Ints(-1) }));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Centroids.Dispose();
        Offsets.Dispose();
        Support.Dispose();
        if (Projection is { } p) { p.Mean.Dispose(); p.Basis.Dispose(); }
    }
}
