namespace AnomalySharp.Diagnostics;

/// <summary>Receives progress of long steps (fit, evaluation, writing images). Front ends draw bars or lines.</summary>
public interface IProgressReporter
{
    /// <summary>Starts a step of <paramref name="total"/> units.</summary>
    IProgressStep Start(string description, int total);

    /// <summary>A one-line message (e.g. a skipped file).</summary>
    void Message(string text);
}

/// <summary>A running step; dispose when done.</summary>
public interface IProgressStep : IDisposable
{
    /// <summary>Marks <paramref name="units"/> more as done.</summary>
    void Advance(int units);

    /// <summary>Replaces the step's description (e.g. the running loss and speed of a training epoch).</summary>
    void Describe(string text) { }
}

/// <summary>Reports nothing.</summary>
public sealed class NullProgress : IProgressReporter, IProgressStep
{
    /// <summary>The instance.</summary>
    public static readonly NullProgress Instance = new();
    /// <inheritdoc />
    public IProgressStep Start(string description, int total) => this;
    /// <inheritdoc />
    public void Message(string text) { }
    /// <inheritdoc />
    public void Advance(int units) { }
    /// <inheritdoc />
    public void Dispose() { }
}
