namespace AnomalySharp.Tuning;

/// <summary>One finished trial: internal coordinates per key and the metric (higher is better).</summary>
/// <param name="Point">Internal coordinate of each parameter, by key.</param>
/// <param name="Value">The metric; NaN for a failed trial.</param>
internal sealed record Observation(IReadOnlyDictionary<string, double> Point, double Value);

/// <summary>Proposes the next point of a search from the trials so far.</summary>
internal interface ISampler
{
    /// <summary>A name for reports ("random", "tpe").</summary>
    string Name { get; }

    /// <summary>The next point; <paramref name="rng"/> is the trial's own seeded generator.</summary>
    IReadOnlyDictionary<string, double> Suggest(SearchSpace space, IReadOnlyList<Observation> history, Random rng);
}

/// <summary>Uniform random search.</summary>
internal sealed class RandomSampler : ISampler
{
    /// <inheritdoc />
    public string Name => "random";

    /// <inheritdoc />
    public IReadOnlyDictionary<string, double> Suggest(SearchSpace space, IReadOnlyList<Observation> history, Random rng) =>
        space.Parameters.ToDictionary(p => p.Key, p => p.SampleUniform(rng));
}
