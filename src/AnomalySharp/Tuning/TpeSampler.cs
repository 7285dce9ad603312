namespace AnomalySharp.Tuning;

/// <summary>
/// Tree-structured Parzen Estimator (Bergstra et al. 2011), univariate as in hyperopt: after a few random trials,
/// the finished trials are split into the best γ fraction ("good") and the rest; each parameter gets a Parzen density
/// for both groups (Gaussian kernels in the internal coordinate plus a wide prior; smoothed frequencies for choices),
/// candidates are drawn from the good density, and the one with the highest ratio good/bad is proposed. No NuGet
/// package offers this for .NET, so it is implemented here, small and tested.
/// </summary>
internal sealed class TpeSampler : ISampler
{
    /// <summary>Random trials before the model is used.</summary>
    public int StartupTrials { get; init; } = 4;
    /// <summary>Fraction of trials counted as good.</summary>
    public double Gamma { get; init; } = 0.25;
    /// <summary>Candidates drawn per parameter.</summary>
    public int Candidates { get; init; } = 24;

    /// <inheritdoc />
    public string Name => "tpe";

    /// <inheritdoc />
    public IReadOnlyDictionary<string, double> Suggest(SearchSpace space, IReadOnlyList<Observation> history, Random rng)
    {
        // Failed trials (NaN) rank last: they belong to the "bad" density, so the search moves away from them.
        var done = history.OrderByDescending(o => double.IsNaN(o.Value) ? double.NegativeInfinity : o.Value).ToList();
        if (done.Count < StartupTrials) return new RandomSampler().Suggest(space, history, rng);
        int succeeded = done.Count(o => !double.IsNaN(o.Value));
        if (succeeded == 0) return new RandomSampler().Suggest(space, history, rng);
        int nGood = Math.Clamp((int)Math.Ceiling(Gamma * done.Count), 1, succeeded);
        var good = done.Take(nGood).ToList();
        var bad = done.Skip(nGood).ToList();
        // Kernels that spill over a bound are clamped onto it, so the same point can come up again; a repeat teaches
        // nothing, so draw again (a few times, then fall back to a random point).
        for (int attempt = 0; attempt < 8; attempt++)
        {
            var point = Propose(space, good, bad, rng);
            if (!history.Any(o => space.Parameters.All(p => o.Point.TryGetValue(p.Key, out double v) && Math.Abs(v - point[p.Key]) < 1e-9)))
                return point;
        }
        return new RandomSampler().Suggest(space, history, rng);
    }

    Dictionary<string, double> Propose(SearchSpace space, List<Observation> good, List<Observation> bad, Random rng)
    {
        var result = new Dictionary<string, double>();
        foreach (var p in space.Parameters)
        {
            var g = good.Where(o => o.Point.ContainsKey(p.Key)).Select(o => o.Point[p.Key]).ToArray();
            var b = bad.Where(o => o.Point.ContainsKey(p.Key)).Select(o => o.Point[p.Key]).ToArray();
            double best = double.NegativeInfinity, chosen = p.SampleUniform(rng);
            for (int c = 0; c < Candidates; c++)
            {
                double x = p.Kind == ParameterKind.Choice ? SampleCategorical(p, g, rng) : SampleParzen(p, g, rng);
                double score = p.Kind == ParameterKind.Choice
                    ? Math.Log(CategoricalDensity(p, g, x)) - Math.Log(CategoricalDensity(p, b, x))
                    : Math.Log(ParzenDensity(p, g, x)) - Math.Log(ParzenDensity(p, b, x));
                if (score > best) { best = score; chosen = x; }
            }
            result[p.Key] = p.Snap(chosen);
        }
        return result;
    }

    /// <summary>
    /// Kernel widths as in hyperopt: each point's distance to its farther neighbour (the range ends count as
    /// neighbours), clipped to [range / min(100, n + 2), range]; the prior is one wide kernel over the whole range.
    /// </summary>
    static double[] Bandwidths(SearchParameter p, IReadOnlyList<double> points)
    {
        double lo = p.InternalLow, hi = p.InternalHigh, range = hi - lo;
        var order = Enumerable.Range(0, points.Count).OrderBy(i => points[i]).ToArray();
        var sigma = new double[points.Count];
        for (int k = 0; k < order.Length; k++)
        {
            double left = k == 0 ? points[order[k]] - lo : points[order[k]] - points[order[k - 1]];
            double right = k == order.Length - 1 ? hi - points[order[k]] : points[order[k + 1]] - points[order[k]];
            sigma[order[k]] = Math.Clamp(Math.Max(left, right), range / Math.Min(100, points.Count + 2), range);
        }
        return sigma;
    }

    /// <summary>Density of a mixture of the prior (uniform over the range) and one Gaussian per observation.</summary>
    public static double ParzenDensity(SearchParameter p, IReadOnlyList<double> points, double x)
    {
        double range = p.InternalHigh - p.InternalLow;
        var sigma = Bandwidths(p, points);
        double density = 1.0 / range;
        for (int i = 0; i < points.Count; i++)
            density += Math.Exp(-0.5 * Math.Pow((x - points[i]) / sigma[i], 2)) / (sigma[i] * Math.Sqrt(2 * Math.PI));
        return density / (points.Count + 1);
    }

    static double SampleParzen(SearchParameter p, IReadOnlyList<double> points, Random rng)
    {
        int component = rng.Next(points.Count + 1);
        if (component == points.Count) return p.SampleUniform(rng);
        double sigma = Bandwidths(p, points)[component];
        // Box-Muller; clamped into the range.
        double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
        double z = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        return p.Snap(points[component] + sigma * z);
    }

    /// <summary>Smoothed frequency of a choice among the points (add-one).</summary>
    public static double CategoricalDensity(SearchParameter p, IReadOnlyList<double> points, double x) =>
        (points.Count(v => (int)v == (int)x) + 1.0) / (points.Count + p.Choices.Count);

    static double SampleCategorical(SearchParameter p, IReadOnlyList<double> points, Random rng)
    {
        double u = rng.NextDouble(), acc = 0;
        for (int i = 0; i < p.Choices.Count; i++)
        {
            acc += CategoricalDensity(p, points, i);
            if (u < acc) return i;
        }
        return p.Choices.Count - 1;
    }
}
