using System.Diagnostics;
using System.Text.Json.Nodes;

namespace AnomalySharp.Diagnostics;

/// <summary>
/// Seconds per stage of one run (results.json's <c>timings</c>): prepare, fit, graph, evaluate, calibrate, save,
/// metrics, images or curves, report. Each <see cref="MemoryMonitor.EndStage"/> closes the stage that began at the
/// previous one; a stage that recurs (the graph, built for each evaluation) adds up. The clock of the current run
/// flows with the call (an AsyncLocal), so runs side by side in one process each keep their own.
/// </summary>
internal sealed class StageTimings
{
    static readonly AsyncLocal<StageTimings?> Current = new();

    readonly Stopwatch _watch = Stopwatch.StartNew();
    readonly List<(string Stage, double Seconds)> _stages = new();
    double _mark;

    /// <summary>The stages so far, in the order they first ended, with their total seconds.</summary>
    public IReadOnlyList<(string Stage, double Seconds)> Stages => _stages;

    /// <summary>Seconds since the run began.</summary>
    public double TotalSeconds => _watch.Elapsed.TotalSeconds;

    /// <summary>Starts the clock of a run on this call path; stages end with <see cref="MemoryMonitor.EndStage"/>.</summary>
    public static StageTimings Begin()
    {
        var clock = new StageTimings();
        Current.Value = clock;
        return clock;
    }

    /// <summary>The clock of the run on this call path, if one began.</summary>
    public static StageTimings? Running => Current.Value;

    /// <summary>Ends stage <paramref name="stage"/> on the current run's clock (nothing without one).</summary>
    internal static void End(string stage)
    {
        if (Current.Value is not { } clock) return;
        double now = clock._watch.Elapsed.TotalSeconds, seconds = now - clock._mark;
        clock._mark = now;
        int at = clock._stages.FindIndex(s => s.Stage == stage);
        if (at < 0) clock._stages.Add((stage, seconds));
        else clock._stages[at] = (stage, clock._stages[at].Seconds + seconds);
    }

    /// <summary>{"prepare": s, "fit": s, ..., "total": s}, seconds rounded to milliseconds.</summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject();
        foreach (var (stage, seconds) in _stages) json[stage.Replace(' ', '_')] = Math.Round(seconds, 3);
        json["total"] = Math.Round(TotalSeconds, 3);
        return json;
    }
}
