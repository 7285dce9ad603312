using System.Diagnostics;
using AnomalySharp.Diagnostics;
using Spectre.Console;

namespace AnomalySharp.Cli;

/// <summary>
/// Progress for the terminal: Spectre.Console bars with elapsed time and ETA when the output is an interactive
/// terminal, plain timestamped lines (at most one every few seconds per step) otherwise.
/// </summary>
internal sealed class ConsoleProgress : IProgressReporter
{
    ProgressContext? _context;

    /// <summary>True when bars are drawn.</summary>
    public static bool Interactive => AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;

    /// <summary>Runs <paramref name="work"/> with this reporter active.</summary>
    public T Run<T>(Func<IProgressReporter, T> work)
    {
        if (!Interactive) return work(this);
        T result = default!;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                     new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx => { _context = ctx; result = work(this); });
        _context = null;
        return result;
    }

    public IProgressStep Start(string description, int total) =>
        _context != null ? new BarStep(_context.AddTask(Markup.Escape(description), maxValue: Math.Max(1, total)))
                         : new LineStep(description, total);

    public void Message(string text)
    {
        if (_context != null) AnsiConsole.MarkupLine("[yellow]" + Markup.Escape(text) + "[/]");
        else Console.Error.WriteLine(text);
    }

    sealed class BarStep(ProgressTask task) : IProgressStep
    {
        public void Advance(int units) => task.Increment(units);
        public void Describe(string text) => task.Description = Markup.Escape(text);
        public void Dispose() => task.StopTask();
    }

    sealed class LineStep(string description, int total) : IProgressStep
    {
        public void Describe(string text) => description = text;

        readonly Stopwatch _clock = Stopwatch.StartNew();
        int _done;
        double _lastPrint = -10;

        public void Advance(int units)
        {
            _done += units;
            double t = _clock.Elapsed.TotalSeconds;
            if (t - _lastPrint < 5 && _done < total) return;
            _lastPrint = t;
            string eta = _done > 0 ? FormattableString.Invariant($"{t / _done * (total - _done):0} s") : "?";
            Console.Error.WriteLine(FormattableString.Invariant(
                $"{description}: {_done}/{total} ({100.0 * _done / Math.Max(1, total):0}%), {t:0.0} s elapsed, ETA {eta}"));
        }

        public void Dispose() { }
    }
}
