using System.Diagnostics;
using System.Text.Json.Nodes;

namespace AnomalySharp.Diagnostics;

/// <summary>
/// Seconds per stage of one run (results.json's <c>timings</c>): prepare, fit, graph, evaluate, calibrate, save,
/// metrics, images or curves, report. Each <see cref="MemoryMonitor.EndStage"/> closes the stage that began at the
/// previous one; a stage that recurs (the graph, built for each evaluation) adds up. The clock of the current run
/// flows with the call (an AsyncLocal), so runs side by side in one process each keep their own. Within a stage, a
/// model may time its parts (<see cref="Part"/>: PaDiM's backbone and Gaussian update, PatchCore's coreset), which are
/// kept as <c>STAGE_parts</c>, with what no part claimed as <c>other</c>.
/// </summary>
internal sealed class StageTimings
{
    static readonly AsyncLocal<StageTimings?> Current = new();

    readonly Stopwatch _watch = Stopwatch.StartNew();
    readonly List<(string Stage, double Seconds)> _stages = new();
    readonly List<(string Stage, List<(string Part, double Seconds)> Parts)> _parts = new();
    List<(string Part, double Seconds)> _pending = new();
    double _mark, _partMark;

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
        if (clock._pending.Count > 0)
        {
            double claimed = clock._pending.Sum(p => p.Seconds);
            if (seconds - claimed > 0) Add(clock._pending, "other", seconds - claimed);
            int parts = clock._parts.FindIndex(p => p.Stage == stage);
            if (parts < 0) clock._parts.Add((stage, clock._pending));
            else foreach (var (part, s) in clock._pending) Add(clock._parts[parts].Parts, part, s);
            clock._pending = new();
        }
        clock._partMark = now;
    }

    /// <summary>
    /// Ends part <paramref name="part"/> of the stage in progress on the current run's clock: the seconds since the
    /// previous part ended or the stage began. A part that recurs (once per batch) adds up. Nothing without a clock.
    /// </summary>
    internal static void Part(string part)
    {
        if (Current.Value is not { } clock) return;
        double now = clock._watch.Elapsed.TotalSeconds;
        Add(clock._pending, part, now - clock._partMark);
        clock._partMark = now;
    }

    static void Add(List<(string Part, double Seconds)> parts, string part, double seconds)
    {
        int at = parts.FindIndex(p => p.Part == part);
        if (at < 0) parts.Add((part, seconds));
        else parts[at] = (part, parts[at].Seconds + seconds);
    }

    /// <summary>{"prepare": s, "fit": s, ..., "total": s, "fit_parts": {"backbone": s, ...}}, seconds rounded to milliseconds.</summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject();
        foreach (var (stage, seconds) in _stages) json[stage.Replace(' ', '_')] = Math.Round(seconds, 3);
        json["total"] = Math.Round(TotalSeconds, 3);
        foreach (var (stage, parts) in _parts)
        {
            var detail = new JsonObject();
            foreach (var (part, seconds) in parts) detail[part.Replace(' ', '_')] = Math.Round(seconds, 3);
            json[stage.Replace(' ', '_') + "_parts"] = detail;
        }
        return json;
    }
}
