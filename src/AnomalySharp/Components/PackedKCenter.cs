using AnomalySharp.Diagnostics;

namespace AnomalySharp.Components;

/// <summary>
/// Greedy k-center over <see cref="PackedPoints"/>, lazy without changing a single choice. Every step picks the point
/// whose distance to its nearest centre is largest; that largest distance only falls as centres are added. A point
/// whose running minimum is already below it cannot be picked until the largest minimum has fallen to its value, so
/// it is set aside (with its minimum, an upper bound of its true one) and skipped by the sweeps — on magnetic_tile
/// most points end far below the final coverage radius. When the largest minimum of the remaining points falls to
/// the bound of a set-aside group, the group's points at or above it are brought up to date against every centre
/// chosen since they were set aside, and come back before the step's choice is made; so each choice is taken over
/// exact minima of every point that could win, with the same lowest-index tie rule as the full sweep.
/// Which points are set aside (a prediction of the final radius from the radius curve so far) decides only how much
/// work is skipped, never what is selected; the tests compare it with the textbook loop.
/// </summary>
internal sealed class PackedKCenter
{
    /// <summary>Points set aside together, sorted by their minimum, largest first, so the ones to bring back are a prefix.</summary>
    sealed class Group
    {
        public required int[] Rows;   // original indices
        public required int[] Mins;   // running minima when set aside (upper bounds of the true ones), descending
        public required int From;     // the first selected centre not applied to them
        public int Start;             // rows before it were brought back
        public int Bound => Start < Mins.Length ? Mins[Start] : int.MinValue;
    }

    /// <summary>Reactivated points take a band below the current radius with them, so groups do not come back one step at a time.</summary>
    const double ReactivationBand = 0.9;

    readonly sbyte[] _points;
    readonly int _dim, _n, _compactEvery, _workers;

    /// <summary>Points set aside during the last <see cref="Select"/>, counted each time.</summary>
    public long SetAside { get; private set; }
    /// <summary>Points brought back up to date during the last <see cref="Select"/>.</summary>
    public long BroughtBack { get; private set; }
    /// <summary>Point-centre distances the sweeps computed during the last <see cref="Select"/> (the full sweep: n × count).</summary>
    public long Distances { get; private set; }

    /// <param name="points">n rows of <paramref name="dim"/> int8 values.</param>
    /// <param name="dim">Values per row.</param>
    /// <param name="compactEvery">Steps between looks for points to set aside (tests use small values to exercise it).</param>
    public PackedKCenter(sbyte[] points, int dim, int compactEvery = 1024)
    {
        _points = points;
        _dim = dim;
        _n = points.Length / dim;
        _compactEvery = Math.Max(1, compactEvery);
        _workers = Math.Max(1, Math.Min(Environment.ProcessorCount, _n / 4096));
    }

    // The live points (original indices, ascending) and their running minima, in buffers of n + padding reused
    // throughout: a run sets points aside and brings them back ~100 times, and fresh arrays each time left hundreds
    // of MB of large-object garbage (measured: peak RSS 362 MB against 232 MB for the plain sweep).
    int[] _live = Array.Empty<int>(), _mins = Array.Empty<int>();
    int _liveCount;
    PackedPoints? _pack;

    public int[] Select(int count, int seed, IProgressReporter? progress = null)
    {
        SetAside = BroughtBack = Distances = 0;
        var selected = new int[count];
        var values = new int[count];
        var groups = new List<Group>();
        _live = new int[_n + PackedPoints.Lanes];
        _mins = new int[_n + PackedPoints.Lanes];
        for (int i = 0; i < _n; i++) { _live[i] = i; _mins[i] = int.MaxValue; }
        _liveCount = _n;
        Repack();
        int current = new Random(seed).Next(_n);
        using var step = (progress ?? NullProgress.Instance).Start("coreset (k-center greedy)", count);
        try
        {
            for (int s = 0; s < count; s++)
            {
                selected[s] = current;
                if ((s & 255) == 255 || s == count - 1) step.Advance(s == count - 1 ? (s & 255) + 1 : 256);
                if (s == count - 1) break; // the choice after the last centre is never used
                var (position, value) = Sweep(current);
                Distances += _liveCount;
                while (groups.Any(g => g.Bound >= value))
                {
                    BringBack(groups, value, selected, s);
                    (position, value) = Argmax();
                }
                values[s] = value;
                current = _live[position];
                if ((s + 1) % _compactEvery == 0) SetAsideBelow(Threshold(values, s, count), groups, s + 1);
            }
        }
        finally { _pack?.Dispose(); _pack = null; }
        return selected;
    }

    /// <summary>Packs the live points afresh (the old pack freed first, so two are never held).</summary>
    void Repack()
    {
        _pack?.Dispose();
        _pack = null;
        _pack = new PackedPoints(_points, _dim, new ArraySegment<int>(_live, 0, _liveCount));
        _pack.MarkPadding(_mins);
    }

    /// <summary>
    /// The radius to set points aside under: the final coverage radius predicted from the curve so far (a power law
    /// through the radii at s/2 and s), never above the current one. Too high costs work (points come back), never a choice.
    /// </summary>
    static int Threshold(int[] values, int s, int count)
    {
        if (s < 64 || values[s] <= 0 || values[s / 2] <= 0) return int.MinValue;
        double alpha = Math.Clamp(Math.Log((double)values[s / 2] / values[s]) / Math.Log(2), 0, 4);
        double predicted = values[s] * Math.Pow((double)count / (s + 1), -alpha);
        return (int)Math.Min(predicted, values[s]);
    }

    /// <summary>Sets aside the live points whose minimum is below <paramref name="threshold"/> as one group, when that is worth a
    /// repack.</summary>
    void SetAsideBelow(int threshold, List<Group> groups, int from)
    {
        int below = 0;
        for (int i = 0; i < _liveCount; i++) if (_mins[i] < threshold) below++;
        if (below < Math.Max(1024, _liveCount / 20)) return;
        var rows = new int[below];
        var rowMins = new int[below];
        int r = 0, k = 0;
        for (int i = 0; i < _liveCount; i++)
        {
            if (_mins[i] < threshold) { rows[r] = _live[i]; rowMins[r++] = _mins[i]; }
            else { _live[k] = _live[i]; _mins[k++] = _mins[i]; } // k ≤ i: compacted in place, order kept
        }
        Array.Sort(rowMins, rows);
        Array.Reverse(rowMins);
        Array.Reverse(rows);
        groups.Add(new Group { Rows = rows, Mins = rowMins, From = from });
        SetAside += below;
        _liveCount = k;
        Repack();
    }

    /// <summary>
    /// Brings the set-aside points whose minimum reaches a band below <paramref name="value"/> up to date against the
    /// centres selected[group.From .. s] and merges them into the live points, in index order.
    /// </summary>
    void BringBack(List<Group> groups, int value, int[] selected, int s)
    {
        int band = (int)Math.Min(value, Math.Floor(value * ReactivationBand));
        var rows = new List<int>();
        var rowMins = new List<int>();
        foreach (var g in groups.Where(g => g.Bound >= value).ToList())
        {
            int end = g.Start;
            while (end < g.Mins.Length && g.Mins[end] >= band) end++;
            var back = g.Rows[g.Start..end];
            rows.AddRange(back);
            rowMins.AddRange(CatchUp(back, g.Mins[g.Start..end], selected, g.From, s));
            g.Start = end;
            if (g.Bound == int.MinValue) groups.Remove(g);
        }
        BroughtBack += rows.Count;
        var add = rows.ToArray();
        var addMins = rowMins.ToArray();
        Array.Sort(add, addMins);
        // Merge from the back into the live buffers: both lists ascend, and the buffers hold every point.
        int a = _liveCount - 1, b = add.Length - 1;
        for (int m = _liveCount + add.Length - 1; b >= 0; m--)
        {
            if (a >= 0 && _live[a] > add[b]) { _live[m] = _live[a]; _mins[m] = _mins[a--]; }
            else { _live[m] = add[b]; _mins[m] = addMins[b--]; }
        }
        _liveCount += add.Length;
        Repack();
    }
    /// <summary>The minima of <paramref name="rows"/> lowered by the centres selected[from .. to].</summary>
    int[] CatchUp(int[] rows, int[] stale, int[] selected, int from, int to)
    {
        using var pack = new PackedPoints(_points, _dim, rows);
        var mins = Padded(pack, stale);
        int units = pack.Groups, workers = Math.Max(1, Math.Min(_workers, units / 64));
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w =>
        {
            int start = (int)((long)units * w / workers), end = (int)((long)units * (w + 1) / workers);
            for (int c = from; c <= to; c++) pack.Sweep(pack.Centre(_points, selected[c]), mins, start, end);
        });
        Distances += (long)rows.Length * (to - from + 1);
        return mins.AsSpan(0, rows.Length).ToArray();
    }

    (int Position, int Value) Sweep(int centre)
    {
        var pack = _pack!;
        var c = pack.Centre(_points, centre);
        int units = pack.Groups, workers = Math.Max(1, Math.Min(_workers, units / 512));
        var best = new (int Index, int Value)[workers];
        var mins = _mins;
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w =>
        {
            int start = (int)((long)units * w / workers), end = (int)((long)units * (w + 1) / workers);
            best[w] = pack.Sweep(c, mins, start, end);
        });
        var result = best[0];
        for (int w = 1; w < workers; w++)
            if (best[w].Value > result.Value) result = best[w];
        return result;
    }

    /// <summary>The largest live minimum and its lowest position.</summary>
    (int Position, int Value) Argmax()
    {
        int position = 0, value = int.MinValue;
        for (int i = 0; i < _liveCount; i++)
            if (_mins[i] > value) { value = _mins[i]; position = i; }
        return (position, value);
    }

    static int[] Padded(PackedPoints pack, int[] mins)
    {
        var padded = new int[pack.PaddedCount];
        mins.AsSpan(0, pack.Count).CopyTo(padded);
        pack.MarkPadding(padded);
        return padded;
    }
}
