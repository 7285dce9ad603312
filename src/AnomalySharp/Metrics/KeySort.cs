namespace AnomalySharp.Metrics;

/// <summary>
/// Sorts int64 keys ascending, in place and without extra memory: most-significant-digit radix passes of 16 bits
/// (American flag sort: a histogram, then each key swapped into its bucket), repeated on the next 16 bits for any
/// bucket still large, then each bucket by introsort, the buckets shared among the run's threads. A pixel key's top bits are
/// its score's sign, exponent and first mantissa bits, so a bucket can hold most of an evaluation's background pixels;
/// the second pass splits those too. The result is the one sort of integers there is.
/// </summary>
internal static unsafe class KeySort
{
    const int Digit = 16, Buckets = 1 << Digit;

    /// <summary>
    /// Sorts <paramref name="count"/> keys at <paramref name="keys"/> ascending; spans under <paramref name="small"/> keys go
    /// to introsort (a parameter so that tests reach every radix level with few keys).
    /// </summary>
    public static void Sort(long* keys, long count, long small = 1 << 18)
    {
        if (count > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(count));
        var pending = new List<(long Start, int Length)>();
        Partition(keys, (int)count, 64 - Digit, pending, Math.Max(2, small));
        long address = (long)keys;
        // As many threads as the run's arithmetic (runtime.threads, applied to LibTorch's pool by RunSettings.ApplyThreads).
        Parallel.ForEach(pending, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, TorchSharp.torch.get_num_threads()) },
            p => new Span<long>((long*)address + p.Start, p.Length).Sort());
    }

    /// <summary>Sorts <paramref name="keys"/> ascending.</summary>
    public static void Sort(Span<long> keys, long small = 1 << 18)
    {
        fixed (long* p = keys) Sort(p, keys.Length, small);
    }

    /// <summary>
    /// Puts the keys of [keys, keys + n) in order of their bits from <paramref name="shift"/> up (the higher bits being
    /// equal), and lists the buckets left for introsort in <paramref name="pending"/> (offsets from the first call's start).
    /// </summary>
    static void Partition(long* keys, int n, int shift, List<(long, int)> pending, long small, long offset = 0)
    {
        if (n < small || shift < 0) { if (n > 1) pending.Add((offset, n)); return; }
        var next = new int[Buckets + 1];
        for (int i = 0; i < n; i++) next[Bucket(keys[i], shift) + 1]++;
        for (int b = 0; b < Buckets; b++) next[b + 1] += next[b];
        var end = new int[Buckets];
        Array.Copy(next, 1, end, 0, Buckets);
        for (int b = 0; b < Buckets; b++)
        {
            while (next[b] < end[b])
            {
                long v = keys[next[b]];
                int d = Bucket(v, shift);
                while (d != b)
                {
                    // Swap v into the next free slot of its own bucket and carry on with the key it displaces.
                    (keys[next[d]], v) = (v, keys[next[d]]);
                    next[d]++;
                    d = Bucket(v, shift);
                }
                keys[next[b]++] = v;
            }
        }
        int start = 0;
        for (int b = 0; b < Buckets; b++)
        {
            Partition(keys + start, end[b] - start, shift - Digit, pending, small, offset + start);
            start = end[b];
        }
    }

    /// <summary>The key's 16 bits from <paramref name="shift"/>, in unsigned order (the sign bit flipped).</summary>
    static int Bucket(long key, int shift) => (int)(((ulong)(key ^ long.MinValue) >> shift) & (Buckets - 1));
}
