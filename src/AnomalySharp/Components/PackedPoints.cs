using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AnomalySharp.Components;

/// <summary>
/// The k-center points re-laid for AVX-VNNI: groups of 8 points, and within a group, for every 4 dimensions, the
/// 8 points' 4 bytes side by side (32 bytes), each value shifted to unsigned (+128). One <c>vpdpbusd</c> then adds
/// 4 dimensions of 8 points' dot products with the centre at once, with no per-point horizontal sum — the row-wise
/// sweep spent most of its time in that sum, not in memory. The squared distance is recovered exactly in integers:
/// |a − c|² = |a|² + |c|² + 256·Σc − 2·Σ(a+128)·c, so the selection equals the row-wise sweep's.
/// Native memory, freed on dispose: n rounded up to 8 × dim rounded up to 4 bytes, plus one int per point.
/// </summary>
sealed unsafe class PackedPoints : IDisposable
{
    public const int Lanes = 8;
    readonly int _dim, _quads;
    byte* _data;
    int* _norms;

    public int Count { get; }
    public int Groups { get; }
    public int PaddedCount => Groups * Lanes;

    /// <summary>Packs all rows of <paramref name="points"/>, or only <paramref name="rows"/> (slot i holds row rows[i]).</summary>
    public PackedPoints(sbyte[] points, int dim, IReadOnlyList<int>? rows = null)
    {
        _dim = dim;
        _quads = (dim + 3) / 4;
        Count = rows?.Count ?? points.Length / dim;
        Groups = (Count + Lanes - 1) / Lanes;
        nuint bytes = (nuint)Groups * (nuint)_quads * 32;
        _data = (byte*)NativeMemory.AlignedAlloc(bytes, 64);
        _norms = (int*)NativeMemory.AlignedAlloc((nuint)PaddedCount * sizeof(int), 64);
        NativeMemory.Clear(_data, bytes);
        NativeMemory.Clear(_norms, (nuint)PaddedCount * sizeof(int));
        fixed (sbyte* src = points)
            for (int i = 0; i < Count; i++)
            {
                sbyte* row = src + (long)(rows is null ? i : rows[i]) * dim;
                byte* group = _data + (long)(i / Lanes) * _quads * 32 + (i % Lanes) * 4;
                int norm = 0;
                for (int k = 0; k < dim; k++)
                {
                    group[(k / 4) * 32 + (k % 4)] = (byte)(row[k] + 128);
                    norm += row[k] * row[k];
                }
                _norms[i] = norm;
            }
    }

    /// <summary>Padding slots never win and never change: their running minimum is below every real distance.</summary>
    public void MarkPadding(int[] minDist)
    {
        for (int i = Count; i < PaddedCount; i++) minDist[i] = int.MinValue;
    }

    /// <summary>Row <paramref name="index"/> as broadcast 4-byte quads, and the constant |c|² + 256·Σc of the distance.</summary>
    public (Vector256<sbyte>[] Quads, int Constant) Centre(sbyte[] points, int index)
    {
        var quads = new Vector256<sbyte>[_quads];
        int norm = 0, sum = 0;
        Span<sbyte> quad = stackalloc sbyte[4];
        for (int q = 0; q < _quads; q++)
        {
            for (int j = 0; j < 4; j++)
            {
                int k = q * 4 + j;
                quad[j] = k < _dim ? points[(long)index * _dim + k] : (sbyte)0;
                norm += quad[j] * quad[j];
                sum += quad[j];
            }
            quads[q] = Vector256.Create(MemoryMarshal.Read<int>(MemoryMarshal.AsBytes(quad))).AsSByte();
        }
        return (quads, norm + 256 * sum);
    }

    /// <summary>
    /// Lowers minDist to the distance to the centre for groups [start, end) and returns the largest minimum with
    /// its lowest index (the row-wise sweep's tie rule).
    /// </summary>
    public (int Index, int Value) Sweep((Vector256<sbyte>[] Quads, int Constant) centre, int[] minDist, int start, int end)
    {
        var constant = Vector256.Create(centre.Constant);
        var bestValue = Vector256.Create(-1);
        var bestIndex = Vector256<int>.Zero;
        var index = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) + Vector256.Create(start * Lanes);
        var step = Vector256.Create(Lanes);
        int quads = _quads;
        fixed (Vector256<sbyte>* c = centre.Quads)
        fixed (int* mins = minDist)
        {
            for (int g = start; g < end; g++)
            {
                byte* group = _data + (long)g * quads * 32;
                // Four independent accumulators: one chain of vpdpbusd waits 5 cycles per step (measured: the single
                // chain ran at the latency bound, 9 cycles a point).
                Vector256<int> d0 = Vector256<int>.Zero, d1 = d0, d2 = d0, d3 = d0;
                int q = 0;
                for (; q + 4 <= quads; q += 4)
                {
                    d0 = AvxVnni.MultiplyWideningAndAdd(d0, Avx.LoadAlignedVector256(group + q * 32), c[q]);
                    d1 = AvxVnni.MultiplyWideningAndAdd(d1, Avx.LoadAlignedVector256(group + q * 32 + 32), c[q + 1]);
                    d2 = AvxVnni.MultiplyWideningAndAdd(d2, Avx.LoadAlignedVector256(group + q * 32 + 64), c[q + 2]);
                    d3 = AvxVnni.MultiplyWideningAndAdd(d3, Avx.LoadAlignedVector256(group + q * 32 + 96), c[q + 3]);
                }
                for (; q < quads; q++)
                    d0 = AvxVnni.MultiplyWideningAndAdd(d0, Avx.LoadAlignedVector256(group + q * 32), c[q]);
                var dot = (d0 + d1) + (d2 + d3);
                int* m = mins + (long)g * Lanes;
                var distance = Avx.LoadAlignedVector256(_norms + (long)g * Lanes) + constant - (dot + dot);
                var lowered = Avx2.Min(Avx.LoadVector256(m), distance);
                Avx.Store(m, lowered);
                var better = Avx2.CompareGreaterThan(lowered, bestValue);
                bestValue = Avx2.Max(bestValue, lowered);
                bestIndex = Avx2.BlendVariable(bestIndex, index, better);
                index += step;
            }
        }
        int bi = start * Lanes, bv = -1;
        for (int l = 0; l < Lanes; l++)
        {
            int v = bestValue.GetElement(l), i = bestIndex.GetElement(l);
            if (v > bv || (v == bv && i < bi)) { bv = v; bi = i; }
        }
        return (bi, bv);
    }

    public void Dispose()
    {
        if (_data is not null) { NativeMemory.AlignedFree(_data); _data = null; }
        if (_norms is not null) { NativeMemory.AlignedFree(_norms); _norms = null; }
    }
}
