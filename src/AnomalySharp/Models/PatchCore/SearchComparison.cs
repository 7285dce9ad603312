namespace AnomalySharp.Models.PatchCore;

/// <summary>
/// The inverted-file search against the exact search on the same patches: the squared distance each gives every patch
/// and the bank row it found. Distances of the exact search are never larger; equal rows mean the exact neighbour was found.
/// </summary>
internal sealed record SearchComparison(float[] ExactDistances, float[] ApproximateDistances, long[] ExactRows, long[] ApproximateRows)
{
    /// <summary>Fraction of patches whose exact nearest bank row was found (or one at exactly the same distance).</summary>
    public double Recall => Enumerable.Range(0, ExactRows.Length)
        .Count(i => ExactRows[i] == ApproximateRows[i] || ApproximateDistances[i] <= ExactDistances[i]) / (double)ExactRows.Length;

    /// <summary>Relative error of every patch's distance (not squared): (approximate − exact) / exact, 0 where exact is 0.</summary>
    public double[] RelativeErrors() => Enumerable.Range(0, ExactRows.Length).Select(i =>
    {
        double e = Math.Sqrt(Math.Max(ExactDistances[i], 0)), a = Math.Sqrt(Math.Max(ApproximateDistances[i], 0));
        return e > 0 ? (a - e) / e : 0;
    }).ToArray();
}
