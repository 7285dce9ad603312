using AnomalySharp.Components;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Models;

public class PatchCoreComponentsTests
{
    static int[] NaiveKCenter(sbyte[] p, int dim, int count, int first)
    {
        int n = p.Length / dim;
        var min = Enumerable.Repeat(long.MaxValue, n).ToArray();
        var result = new List<int>();
        int current = first;
        for (int s = 0; s < count; s++)
        {
            result.Add(current);
            for (int i = 0; i < n; i++)
            {
                long d = 0;
                for (int k = 0; k < dim; k++) { long x = p[i * dim + k] - p[current * dim + k]; d += x * x; }
                min[i] = Math.Min(min[i], d);
            }
            long best = -1;
            for (int i = 0; i < n; i++) if (min[i] > best) { best = min[i]; current = i; }
        }
        return result.ToArray();
    }

    /// <summary>
    /// Issue 33: the continued selection equals the textbook greedy loop started from the old centres: every point at its
    /// distance to the nearest centre, then the farthest point (lowest index on ties) again and again.
    /// </summary>
    [Theory]
    [InlineData(16, 0)]
    [InlineData(24, 1)]
    public void KCenterGreedyContinuedFromOldCentresEqualsTheTextbookLoop(int dim, int seed)
    {
        var random = new Random(seed);
        sbyte[] Rows(int n) => Enumerable.Range(0, n * dim).Select(_ => (sbyte)random.Next(-100, 101)).ToArray();
        var points = Rows(700);
        var centers = Rows(60);
        int n = points.Length / dim, k = centers.Length / dim;
        long Distance(sbyte[] a, int i, sbyte[] b, int j)
        {
            long sum = 0;
            for (int d = 0; d < dim; d++) { long diff = a[i * dim + d] - b[j * dim + d]; sum += diff * diff; }
            return sum;
        }
        var min = Enumerable.Range(0, n).Select(i => Enumerable.Range(0, k).Min(j => Distance(points, i, centers, j))).ToArray();
        var expected = new List<int>();
        for (int s = 0; s < 40; s++)
        {
            int best = 0;
            for (int i = 1; i < n; i++) if (min[i] > min[best]) best = i;
            expected.Add(best);
            for (int i = 0; i < n; i++) min[i] = Math.Min(min[i], Distance(points, i, points, best));
        }
        Assert.Equal(expected, KCenterGreedy.SelectAfter(points, centers, dim, 40));
        Assert.Throws<ArgumentOutOfRangeException>(() => KCenterGreedy.SelectAfter(points, centers, dim, n + 1));
    }

    [Theory]
    [InlineData(40, false)]
    [InlineData(64, false)]
    [InlineData(7, false)]
    [InlineData(40, true)]
    [InlineData(64, true)]
    [InlineData(7, true)]
    [InlineData(3, true)]
    public void KCenterGreedyEqualsTheTextbookLoop(int dim, bool packed)
    {
        var rng = new Random(5);
        int n = 20003;   // not a multiple of the packed sweep's 8 lanes
        var points = new sbyte[n * dim];
        for (int i = 0; i < points.Length; i++) points[i] = (sbyte)rng.Next(-128, 128);
        if (packed && !System.Runtime.Intrinsics.X86.AvxVnni.IsSupported)
        {
            Assert.Throws<PlatformNotSupportedException>(() => KCenterGreedy.Select(points, dim, 50, 3, null, packed: true));
            return;
        }
        var fast = KCenterGreedy.Select(points, dim, 50, 3, null, packed);
        var naive = NaiveKCenter(points, dim, 50, new Random(3).Next(n));
        Assert.Equal(naive, fast);
        Assert.Equal(50, fast.Distinct().Count());
        Assert.Equal(fast, KCenterGreedy.Select(points, dim, 50, seed: 3));
    }

    [Theory]
    [InlineData(16, 3)]
    [InlineData(64, 5)]
    [InlineData(7, 2)]
    public void TheLazyPackedKCenterSetsPointsAsideAndBringsThemBackWithoutChangingAChoice(int dim, int latent)
    {
        if (!System.Runtime.Intrinsics.X86.AvxVnni.IsSupported) return; // the row-wise sweep is the only one there (tested above)
        // Points on a low-dimensional patch, as CNN features are: the coverage radius falls steadily, so most points end
        // far below it (set aside) and the predicted radius is at first too high (groups come back).
        var rng = new Random(17);
        int n = 20003;
        var basis = Enumerable.Range(0, dim * latent).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        var points = new sbyte[n * dim];
        var z = new double[latent];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < latent; j++) z[j] = rng.NextDouble() * 2 - 1;
            for (int k = 0; k < dim; k++)
                points[i * dim + k] = (sbyte)Math.Clamp(Math.Round(50 * Enumerable.Range(0,
                    latent).Sum(j => basis[k * latent + j] * z[j])), -128, 127);
        }
        var lazy = new PackedKCenter(points, dim, compactEvery: 16);
        var chosen = lazy.Select(600, seed: 4);
        Assert.Equal(NaiveKCenter(points, dim, 600, new Random(4).Next(n)), chosen);
        Assert.True(lazy.SetAside > 0 && lazy.BroughtBack > 0, $"set aside {lazy.SetAside}, brought back {lazy.BroughtBack}");
        Assert.True(lazy.Distances < (long)n * 599, $"{lazy.Distances} distances, the full sweep computes {(long)n * 599}");
        Assert.Equal(chosen, KCenterGreedy.Select(points, dim, 600, 4, null, packed: false));
    }

    [Fact]
    public void BothKCenterSweepsBreakTiesAtTheLowestIndex()
    {
        // Many equal distances: 4 distinct rows repeated; the textbook loop keeps the first farthest row.
        const int dim = 12, n = 9001;
        var rows = new sbyte[][] { Enumerable.Repeat((sbyte)-128, dim).ToArray(), Enumerable.Repeat((sbyte)127, dim).ToArray(),
                                   Enumerable.Repeat((sbyte)0, dim).ToArray(), Enumerable.Range(0,
                                       dim).Select(k => (sbyte)(k % 2 == 0 ? 127 : -128)).ToArray() };
        var points = new sbyte[n * dim];
        for (int i = 0; i < n; i++) rows[(i * 7 + i / 13) % 4].CopyTo(points, i * dim);
        var naive = NaiveKCenter(points, dim, 4, new Random(11).Next(n));
        Assert.Equal(naive, KCenterGreedy.Select(points, dim, 4, 11, null, packed: false));
        if (System.Runtime.Intrinsics.X86.AvxVnni.IsSupported)
            Assert.Equal(naive, KCenterGreedy.Select(points, dim, 4, 11, null, packed: true));
    }

    [Fact]
    public void KCenterGreedyPicksOnePointPerSeparatedCluster()
    {
        var rng = new Random(1);
        const int dim = 16, clusters = 6, perCluster = 2000;
        var points = new sbyte[clusters * perCluster * dim];
        for (int c = 0; c < clusters; c++)
            for (int i = 0; i < perCluster; i++)
                for (int k = 0; k < dim; k++)
                    points[((c * perCluster) + i) * dim + k] = (sbyte)((k == c ? 100 : 0) + rng.Next(-5, 6));
        var chosen = KCenterGreedy.Select(points, dim, clusters, seed: 9);
        Assert.Equal(clusters, chosen.Select(i => i / perCluster).Distinct().Count());
    }

    [Fact]
    public void QuantizationKeepsTheLargestValueAt127()
    {
        var q = KCenterGreedy.Quantize(tensor(new[] { 0.5f, -2f, 1f, 0f }).view(2, 2));
        Assert.Equal(new sbyte[] { 32, -127, 64, 0 }, q);
    }

    [Fact]
    public void QuantizingChunkByChunkGivesTheBytesOfTheWhole()
    {
        using var scope = NewDisposeScope();
        var rows = randn(new long[] { 1000, 64 }, generator: new Generator(7)) * 3;
        var chunks = new[] { rows.narrow(0, 0, 333), rows.narrow(0, 333, 400), rows.narrow(0, 733, 267) };
        var whole = KCenterGreedy.Quantize(rows);
        var pieces = new sbyte[whole.Length];
        float scale = KCenterGreedy.QuantizeScale(chunks);
        long offset = 0;
        foreach (var c in chunks)
        {
            KCenterGreedy.QuantizeInto(c, scale, pieces.AsSpan((int)offset, (int)c.numel()));
            offset += c.numel();
        }
        Assert.Equal(whole, pieces);
        Assert.Contains(whole, v => v is 127 or -127);
    }

    [Fact]
    public void RandomProjectionIsSeededAndKeepsDistancesRoughly()
    {
        using var a = new RandomProjection(384, 64, 42);
        using var b = new RandomProjection(384, 64, 42);
        Assert.True(a.Matrix.eq(b.Matrix).all().item<bool>());
        var x = randn(new long[] { 200, 384 }, generator: new Generator(2));
        var projected = a.Project(x);
        var ratio = cdist(projected, projected).flatten() / cdist(x, x).flatten().clamp_min(1e-6);
        var offDiagonal = ratio.masked_select(eye(200).flatten().eq(0));
        Assert.InRange(offDiagonal.mean().item<float>(), 0.9f, 1.1f);
    }
}
