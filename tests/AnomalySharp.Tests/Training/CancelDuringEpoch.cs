using AnomalySharp.Diagnostics;

namespace AnomalySharp.Tests.Training;

/// <summary>A progress reporter that cancels a run once the step titled <paramref name="title"/> (e.g. "epoch 2/3") has seen <paramref
/// name="after"/> images.</summary>
internal sealed class CancelDuringEpoch(CancellationTokenSource cancel, string title, int after) : IProgressReporter
{
    void Seen(string description, int done)
    {
        if (description == title && done >= after) cancel.Cancel();
    }

    public IProgressStep Start(string description, int total) => new Step(this, description);
    public void Message(string text) { }

    sealed class Step(CancelDuringEpoch owner, string description) : IProgressStep
    {
        int _done;
        public void Advance(int units)
        {
            _done += units;
            owner.Seen(description, _done);
        }
        public void Dispose() { }
    }
}
