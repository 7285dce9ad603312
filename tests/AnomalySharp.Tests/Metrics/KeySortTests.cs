using AnomalySharp.Metrics;

namespace AnomalySharp.Tests.Metrics;

public class KeySortTests
{
    /// <summary>
    /// The radix pass and the per-bucket sorts give what one introsort gives: uniform keys over the whole int64 range,
    /// keys crowded into a few buckets (like scores in a few binades), many equal keys, and negatives beside positives;
    /// with a small threshold, the radix passes go down to the last 16 bits.
    /// </summary>
    [Theory]
    [InlineData("uniform", 1 << 18)]
    [InlineData("crowded", 1 << 18)]
    [InlineData("crowded", 64)]
    [InlineData("ties", 1 << 18)]
    [InlineData("ties", 64)]
    [InlineData("small", 1 << 18)]
    public void SortsLikeIntrosort(string kind, long small)
    {
        var rng = new Random(7);
        int n = kind == "small" ? 1000 : 600_000;
        var keys = new long[n];
        for (int i = 0; i < n; i++)
            keys[i] = kind switch
            {
                "uniform" or "small" => rng.NextInt64(long.MinValue, long.MaxValue),
                // A handful of top-16-bit buckets, both signs, arbitrary low bits (a pixel's region code).
                "crowded" => ((long)rng.Next(-3, 4) << 48) + ((long)rng.Next() << 16) + rng.Next(0, 5),
                _ => rng.Next(-2, 3) * (1L << 40),
            };
        var expected = (long[])keys.Clone();
        Array.Sort(expected);
        KeySort.Sort(keys, small); // 64: every bucket over 64 keys is split again on its next 16 bits, down to the last
        Assert.Equal(expected, keys);
    }
}
