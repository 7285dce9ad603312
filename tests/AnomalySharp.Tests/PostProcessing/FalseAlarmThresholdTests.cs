using AnomalySharp.PostProcessing;
using CsCheck;

namespace AnomalySharp.Tests.PostProcessing;

/// <summary>
/// The split-conformal threshold keeps its promise: over many calibration draws of good scores, the expected share of
/// new good scores flagged is at most r (and, being exact, not far below it: at least r − 1/(n+1)).
/// </summary>
// Allocates heavily (48,000 calibration draws): alone, so its collections never land in another test's TorchSharp call.
[Collection(IsolatedCollection.Name)]
[Trait(IsolatedCollection.Trait, IsolatedCollection.Value)]
public class FalseAlarmThresholdTests
{
    [Theory]
    [InlineData(99, 0.01, 99)]
    [InlineData(19, 0.05, 19)]
    [InlineData(4, 0.2, 4)]
    [InlineData(9, 0.1, 9)]
    public void TheRankIsTheConformalOrderStatisticAndTheMinimumCountIsTheFirstThatFitsIt(int n, double rate, long rank)
    {
        Assert.Equal(rank, FalseAlarmThreshold.Rank(n, rate));
        Assert.Equal(n, FalseAlarmThreshold.MinimumCount(rate));
        Assert.True(FalseAlarmThreshold.Rank(n - 1, rate) > n - 1); // one fewer cannot hold the guarantee
        var e = Assert.Throws<AnomalySharpException>(() => FalseAlarmThreshold.Compute(new float[n - 1], rate));
        Assert.Contains($"needs at least {n}", e.Message);
    }

    [Fact]
    public void TiesAtTheThresholdAreNotFlagged()
    {
        var scores = new float[] { 1, 2, 2, 2, 2, 2, 2, 2, 2, 3 };
        double t = FalseAlarmThreshold.Compute(scores, 0.1); // k = ⌈11 · 0.9⌉ = 10: the largest
        Assert.True(t > 3 && t < 3.001);
        Assert.Equal(0, FalseAlarmThreshold.Rate(scores, t));
        double t2 = FalseAlarmThreshold.Compute(scores, 0.5); // k = 6: a 2, and no 2 is flagged
        Assert.True(t2 > 2);
        Assert.Equal(0.1, FalseAlarmThreshold.Rate(scores, t2), 12);
    }

    /// <summary>Exceedance probabilities P(X ≥ t) of three good-score distributions, one with ties.</summary>
    static double Exceed(int kind, double t) => kind switch
    {
        0 => Math.Clamp(1 - t, 0, 1),                       // uniform on [0, 1)
        1 => Math.Exp(-Math.Max(0, t)),                     // exponential
        _ => Math.Clamp((10 - Math.Ceiling(t)) / 10, 0, 1), // integers 0..9 (ties)
    };

    static float Draw(int kind, Random rng) => kind switch
    {
        0 => (float)rng.NextDouble(),
        1 => (float)-Math.Log(1 - rng.NextDouble()),
        _ => rng.Next(10),
    };

    [Fact]
    public void OnExchangeableScoresTheExpectedFalseAlarmRateIsAtMostR()
    {
        var cases = Gen.Select(Gen.OneOf(new[] { 0.01, 0.05, 0.1, 0.2 }), Gen.Int[0, 300], Gen.Int[0, 2], Gen.Int[0, int.MaxValue]);
        cases.Sample((rate, extra, kind, seed) =>
        {
            int n = (int)FalseAlarmThreshold.MinimumCount(rate) + extra;
            var rng = new Random(seed);
            const int draws = 2000;
            double sum = 0, sumSq = 0;
            var scores = new float[n];
            for (int d = 0; d < draws; d++)
            {
                for (int i = 0; i < n; i++) scores[i] = Draw(kind, rng);
                double p = Exceed(kind, FalseAlarmThreshold.Compute(scores, rate));
                sum += p; sumSq += p * p;
            }
            double mean = sum / draws, sd = Math.Sqrt(Math.Max(0, sumSq / draws - mean * mean)), margin = 4 * sd / Math.Sqrt(draws) + 1e-9;
            Assert.True(mean <= rate + margin,
                $"n {n}, r {rate}, kind {kind}: expected false-alarm rate {mean:0.#####} > {rate} + {margin:0.#####}");
            // Continuous scores: the order statistic is tight, E = (n + 1 − k) / (n + 1) ≥ r − 1/(n+1). (Ties only lower it.)
            if (kind < 2) Assert.True(mean >= rate - 1.0 / (n + 1) - margin,
                $"n {n}, r {rate}, kind {kind}: {mean:0.#####} is needlessly far below {rate}");
        }, seed: "0N0XIzNsQ0O2", iter: 24, threads: 1);
    }
}
