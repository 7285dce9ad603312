using System.Globalization;

namespace AnomalySharp.Tuning;

/// <summary>The kinds of search dimensions.</summary>
internal enum ParameterKind
{
    /// <summary>A real number, uniform in [low, high].</summary>
    Float,
    /// <summary>A positive real number, uniform in log space.</summary>
    LogFloat,
    /// <summary>An integer in [low, high].</summary>
    Int,
    /// <summary>One of a list of values (any YAML values, written as flow YAML).</summary>
    Choice,
}

/// <summary>
/// One dimension of a search space over a config key. Samplers work in an internal coordinate: the value itself
/// (float, int), its logarithm (log_float), or the index of the choice.
/// </summary>
/// <param name="Key">The config key, e.g. model.n_features.</param>
/// <param name="Kind">The kind of dimension.</param>
/// <param name="Low">Lower bound (numeric kinds).</param>
/// <param name="High">Upper bound (numeric kinds).</param>
/// <param name="Choices">The choices as YAML text (choice kind).</param>
internal sealed record SearchParameter(string Key, ParameterKind Kind, double Low, double High, IReadOnlyList<string> Choices)
{
    /// <summary>Lower end of the internal coordinate.</summary>
    public double InternalLow => Kind switch { ParameterKind.LogFloat => Math.Log(Low), ParameterKind.Choice => 0, _ => Low };
    /// <summary>Upper end of the internal coordinate (for a choice: the number of choices, exclusive).</summary>
    public double InternalHigh => Kind switch
    {
        ParameterKind.LogFloat => Math.Log(High),
        ParameterKind.Choice => Choices.Count,
        _ => High
    };

    /// <summary>Maps an internal coordinate to a legal one (clamped, rounded for int and choice).</summary>
    public double Snap(double x) => Kind switch
    {
        ParameterKind.Int => Math.Clamp(Math.Round(x), Low, High),
        ParameterKind.Choice => Math.Clamp(Math.Floor(x), 0, Choices.Count - 1),
        _ => Math.Clamp(x, InternalLow, InternalHigh),
    };

    /// <summary>The value for a `--set KEY=VALUE` override, from an internal coordinate.</summary>
    public string Format(double x) => Kind switch
    {
        ParameterKind.Int => ((long)Snap(x)).ToString(CultureInfo.InvariantCulture),
        ParameterKind.Choice => Choices[(int)Snap(x)],
        ParameterKind.LogFloat => Math.Exp(Snap(x)).ToString("G6", CultureInfo.InvariantCulture),
        _ => Snap(x).ToString("G6", CultureInfo.InvariantCulture),
    };

    /// <summary>A uniformly random internal coordinate.</summary>
    public double SampleUniform(Random rng) => Kind switch
    {
        ParameterKind.Choice => rng.Next(Choices.Count),
        ParameterKind.Int => rng.NextInt64((long)Low, (long)High + 1),
        _ => InternalLow + rng.NextDouble() * (InternalHigh - InternalLow),
    };
}
