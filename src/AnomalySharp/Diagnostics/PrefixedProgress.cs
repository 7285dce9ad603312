namespace AnomalySharp.Diagnostics;

/// <summary>
/// Passes progress on with a prefix before every step and message, e.g. "position 2/4: " for the models of a tiled
/// ensemble, which train one after another with the same step names.
/// </summary>
internal sealed class PrefixedProgress(IProgressReporter inner, string prefix) : IProgressReporter
{
    /// <inheritdoc />
    public IProgressStep Start(string description, int total) => new Step(inner.Start(prefix + description, total), prefix);

    /// <inheritdoc />
    public void Message(string text) => inner.Message(prefix + text);

    sealed class Step(IProgressStep inner, string prefix) : IProgressStep
    {
        public void Advance(int units) => inner.Advance(units);
        public void Describe(string text) => inner.Describe(prefix + text);
        public void Dispose() => inner.Dispose();
    }
}
