using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using AnomalySharp.Diagnostics;

namespace AnomalySharp.Components;

/// <summary>
/// Greedy k-center coreset selection (Sener &amp; Savarese 2018; PatchCore's subsampling): start from a seeded
/// random point, then repeatedly add the point farthest from everything chosen so far. Each step is one sweep over
/// all points that computes the distance to the newest centre, lowers each point's running minimum and finds the
/// largest minimum — fused into a single pass over int8-quantized low-dimensional projections (a quarter of
/// float32's memory traffic, which is what bounds this loop), split across all cores. Memory: the points and one
/// int per point; never an N×N matrix.
/// </summary>
public static class KCenterGreedy
{
    /// <summary>
    /// Quantizes float rows [N,dim] to int8 with one symmetric scale (max |value| → 127), flattened row-major.
    /// Distances keep their order up to rounding.
    /// </summary>
    public static sbyte[] Quantize(TorchSharp.torch.Tensor rows)
    {
        var result = new sbyte[rows.numel()];
        QuantizeInto(rows, QuantizeScale(new[] { rows }), result);
        return result;
    }

    /// <summary>The scale <see cref="Quantize"/> uses for rows split into <paramref name="chunks"/> (max |value| over all → 127).</summary>
    public static float QuantizeScale(IEnumerable<TorchSharp.torch.Tensor> chunks)
    {
        float max = 0;
        foreach (var c in chunks)
            using (var m = c.abs().max()) max = Math.Max(max, m.item<float>());
        return max > 0 ? 127f / max : 1f;
    }

    /// <summary>
    /// Quantizes one chunk of rows with <paramref name="scale"/> into <paramref name="destination"/> (row-major), so rows
    /// held in chunks are quantized without joining them first; the bytes equal those of <see cref="Quantize"/>.
    /// </summary>
    public static void QuantizeInto(TorchSharp.torch.Tensor rows, float scale, Span<sbyte> destination)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        var q = (rows * scale).round_().clamp_(-127, 127).to_type(TorchSharp.torch.ScalarType.Int8).contiguous();
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, sbyte>(q.bytes).CopyTo(destination);
    }

    /// <summary>Selects <paramref name="count"/> distinct row indices of <paramref name="points"/> (n rows of <paramref name="dim"/> int8
    /// values).</summary>
    public static int[] Select(sbyte[] points, int dim, int count, int seed, IProgressReporter? progress = null)
        => Select(points, dim, count, seed, progress, AvxVnni.IsSupported);

    /// <summary>
    /// <paramref name="packed"/> chooses the sweep: the lazy packed VNNI sweep (<see cref="PackedKCenter"/>) or the
    /// row-wise one. Both compute the same integer distances and break ties the same way (lowest index), so they
    /// select the same points; tests run both.
    /// </summary>
    internal static int[] Select(sbyte[] points, int dim, int count, int seed, IProgressReporter? progress, bool packed,
        int compactEvery = 1024)
    {
        if (dim <= 0 || points.Length % dim != 0) throw new ArgumentException("points length must be a multiple of dim");
        int n = points.Length / dim;
        if (count < 1 || count > n) throw new ArgumentOutOfRangeException(nameof(count), $"count {count} must be in [1, {n}]");
        if (packed && !AvxVnni.IsSupported) throw new PlatformNotSupportedException("the packed k-center sweep needs AVX-VNNI");
        if (packed) return new PackedKCenter(points, dim, compactEvery).Select(count, seed, progress);
        var minDist = new int[n];
        Array.Fill(minDist, int.MaxValue);
        return Greedy(points, dim, minDist, new Random(seed).Next(n), count, progress, "coreset (k-center greedy)");
    }

    /// <summary>
    /// The greedy loop: choose <paramref name="first"/>, lower every point's running minimum <paramref name="minDist"/>
    /// to its distance from the newest centre, take the point with the largest minimum next, <paramref name="count"/> times.
    /// </summary>
    static int[] Greedy(sbyte[] points, int dim, int[] minDist, int first, int count, IProgressReporter? progress, string stage)
    {
        int n = minDist.Length;
        var selected = new int[count];
        int workers = Workers(n);
        var localBest = new (int Index, int Value)[workers];
        int current = first;
        using var step = (progress ?? NullProgress.Instance).Start(stage, count);
        for (int s = 0; s < count; s++)
        {
            selected[s] = current;
            int c = current;
            Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w =>
            {
                int start = (int)((long)n * w / workers), end = (int)((long)n * (w + 1) / workers);
                localBest[w] = Sweep(points, dim, c, minDist, start, end);
            });
            var best = localBest[0];
            for (int w = 1; w < workers; w++)
                if (localBest[w].Value > best.Value) best = localBest[w];
            current = best.Index;
            if ((s & 255) == 255 || s == count - 1) step.Advance(s == count - 1 ? (s & 255) + 1 : 256);
        }
        return selected;
    }

    /// <summary>Sweep workers for <paramref name="n"/> points: one per 4,096 points, at most one per core.</summary>
    static int Workers(int n) => Math.Max(1, Math.Min(Environment.ProcessorCount, n / 4096));

    /// <summary>
    /// Continues a greedy k-center selection whose earlier centres are <paramref name="centers"/> (rows of the same
    /// <paramref name="dim"/>, quantized with the same scale): each of <paramref name="points"/> starts at its distance to
    /// the nearest of them, and <paramref name="count"/> more are chosen, each the point farthest from everything chosen
    /// so far, as if the selection had gone on over the old and new points together (old points are centres already, so
    /// they are never chosen again). Returns indices into <paramref name="points"/>, in the order chosen.
    /// </summary>
    public static unsafe int[] SelectAfter(sbyte[] points, sbyte[] centers, int dim, int count, IProgressReporter? progress = null)
    {
        if (dim <= 0 || points.Length % dim != 0 || centers.Length % dim != 0) throw new ArgumentException("points and centers must "
            + "be rows of dim values");
        int n = points.Length / dim, k = centers.Length / dim;
        if (count < 1 || count > n) throw new ArgumentOutOfRangeException(nameof(count), $"count {count} must be in [1, {n}]");
        var minDist = new int[n];
        int workers = Workers(n);
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w =>
        {
            int start = (int)((long)n * w / workers), end = (int)((long)n * (w + 1) / workers);
            fixed (sbyte* p = points)
            fixed (sbyte* c = centers)
                for (int i = start; i < end; i++)
                {
                    int best = int.MaxValue;
                    sbyte* row = p + (long)i * dim;
                    for (int j = 0; j < k; j++) best = Math.Min(best, SquaredDistance(row, c + (long)j * dim, dim));
                    minDist[i] = best;
                }
        });
        int first = 0;
        for (int i = 1; i < n; i++) if (minDist[i] > minDist[first]) first = i;
        return Greedy(points, dim, minDist, first, count, progress, "coreset (k-center greedy, continued)");
    }

    /// <summary>Lowers minDist[i] to the distance to row <paramref name="center"/> for i in [start, end) and returns the largest
    /// minimum.</summary>
    static unsafe (int Index, int Value) Sweep(sbyte[] points, int dim, int center, int[] minDist, int start, int end)
    {
        int bestIndex = start, bestValue = -1;
        fixed (sbyte* basePtr = points)
        fixed (int* mins = minDist)
        {
            sbyte* c = basePtr + (long)center * dim;
            for (int i = start; i < end; i++)
            {
                int d = SquaredDistance(basePtr + (long)i * dim, c, dim);
                int m = mins[i];
                if (d < m) { m = d; mins[i] = d; }
                if (m > bestValue) { bestValue = m; bestIndex = i; }
            }
        }
        return (bestIndex, bestValue);
    }

    /// <summary>Squared Euclidean distance of two int8 vectors (AVX2 when available: widen, subtract, multiply-add).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe int SquaredDistance(sbyte* a, sbyte* b, int dim)
    {
        int k = 0, sum = 0;
        if (Avx2.IsSupported && dim >= 16)
        {
            var acc = Vector256<int>.Zero;
            for (; k + 16 <= dim; k += 16)
            {
                var diff = Avx2.Subtract(Avx2.ConvertToVector256Int16(a + k), Avx2.ConvertToVector256Int16(b + k));
                acc = Avx2.Add(acc, Avx2.MultiplyAddAdjacent(diff, diff));
            }
            sum = Vector256.Sum(acc);
        }
        for (; k < dim; k++) { int d = a[k] - b[k]; sum += d * d; }
        return sum;
    }
}
