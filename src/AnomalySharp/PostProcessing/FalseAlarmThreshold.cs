namespace AnomalySharp.PostProcessing;

/// <summary>
/// A threshold from defect-free images alone, with a stated false-alarm guarantee: split conformal prediction. Given
/// the scores of n calibration images that the model never fitted on, the threshold is the k-th smallest of them with
/// k = ⌈(n+1)(1−r)⌉, and an image is flagged when its score is above it. For a new good image exchangeable with the
/// calibration images (same line, same camera, same kind of part), the probability that it is flagged is at most r:
/// its rank among the n+1 scores is uniform, and it exceeds the k-th smallest of the other n in at most n+1−k of n+1
/// cases. The bound needs k ≤ n, so r cannot be below 1/(n+1).
/// </summary>
internal static class FalseAlarmThreshold
{
    /// <summary>The rank k = ⌈(n+1)(1−r)⌉ of the threshold among <paramref name="n"/> sorted calibration scores (1-based).</summary>
    public static long Rank(long n, double rate)
    {
        if (!(rate is > 0 and < 1)) throw new AnomalySharpException($"a false-alarm rate must be in (0, 1), got {rate}");
        // The small tolerance keeps (n+1)(1−r) that is an integer in exact arithmetic from rounding up by one.
        return (long)Math.Ceiling((n + 1) * (1 - rate) - 1e-9);
    }

    /// <summary>The fewest calibration scores for which rate <paramref name="rate"/> can be guaranteed: the least n with ⌈(n+1)(1−r)⌉ ≤
    /// n.</summary>
    public static long MinimumCount(double rate)
    {
        long n = Math.Max(1, (long)Math.Floor((1 - rate) / rate) - 1);
        while (Rank(n, rate) > n) n++;
        return n;
    }

    /// <summary>
    /// The raw threshold for <paramref name="scores"/> (any order): the next float above their k-th smallest, so that
    /// "flagged when at or above the threshold" (how normalized scores are read, 0.5 and up) means "above the k-th
    /// smallest", ties included.
    /// </summary>
    /// <exception cref="AnomalySharpException">Too few scores for the rate; the message says how many are needed.</exception>
    public static double Compute(ReadOnlySpan<float> scores, double rate, string what = "calibration images")
    {
        long k = Rank(scores.Length, rate);
        if (k > scores.Length)
            throw new AnomalySharpException($"a false-alarm rate of {rate} needs at least {MinimumCount(rate)} {what}, and there are "
                + $"{scores.Length}");
        if (k < 1) k = 1;
        var sorted = scores.ToArray();
        Array.Sort(sorted);
        return MathF.BitIncrement(sorted[k - 1]);
    }

    /// <summary>The share of <paramref name="scores"/> at or above <paramref name="threshold"/>: the false alarms it makes on
    /// them.</summary>
    public static double Rate(ReadOnlySpan<float> scores, double threshold)
    {
        if (scores.Length == 0) return double.NaN;
        int flagged = 0;
        foreach (float s in scores) if (s >= threshold) flagged++;
        return flagged / (double)scores.Length;
    }
}
