using System.Runtime.InteropServices;

namespace AnomalySharp.Metrics;

/// <summary>
/// Int64 keys sorted ascending with bounded memory: keys gather in one native run of at most <c>runLength</c> keys;
/// a full run is sorted and appended to a temporary file (deleted on dispose), and reading merges the runs. A set that
/// fits one run never touches the disk. Memory is one run plus a small read buffer per run, whatever the number of keys.
/// </summary>
internal sealed unsafe class SortedRuns : IDisposable
{
    const int ReadBlock = 1 << 16; // keys per run read at a time while merging (512 KB)

    readonly long _runLength;
    long* _run;
    long _filled;
    FileStream? _file;
    readonly List<(long Offset, long Count)> _spilled = new();
    bool _complete;

    /// <summary>Number of keys added.</summary>
    public long Count { get; private set; }

    /// <summary>Whether the keys went to a temporary file (more than one run).</summary>
    public bool Spilled => _spilled.Count > 0;

    public SortedRuns(long runLength)
    {
        if (runLength < 2 || runLength > int.MaxValue / sizeof(long)) throw new ArgumentOutOfRangeException(nameof(runLength));
        _runLength = runLength;
    }

    /// <summary>Adds keys (copied).</summary>
    public void Add(ReadOnlySpan<long> keys)
    {
        if (_complete) throw new InvalidOperationException("the runs are complete");
        while (!keys.IsEmpty)
        {
            if (_run == null) _run = (long*)NativeMemory.Alloc((nuint)_runLength, sizeof(long));
            int take = (int)Math.Min(keys.Length, _runLength - _filled);
            keys[..take].CopyTo(new Span<long>(_run + _filled, take));
            keys = keys[take..];
            _filled += take;
            Count += take;
            if (_filled == _runLength) Spill();
        }
    }

    /// <summary>Sorts the last run; no key may be added after.</summary>
    public void Complete()
    {
        if (_complete) return;
        _complete = true;
        if (_spilled.Count == 0) { if (_filled > 0) KeySort.Sort(_run, _filled); return; }
        if (_filled > 0) Spill();
        // Every key is on disk now: the run's memory goes back before the merge.
        if (_run != null) { NativeMemory.Free(_run); _run = null; }
    }

    /// <summary>Sorts the run in memory and appends it to the temporary file.</summary>
    void Spill()
    {
        var run = new Span<long>(_run, (int)_filled);
        KeySort.Sort(_run, _filled);
        _file ??= ScratchFile.Create("keys", 1 << 20);
        long offset = _file.Length;
        try
        {
            _file.Seek(offset, SeekOrigin.Begin);
            var bytes = MemoryMarshal.AsBytes(run);
            for (int at = 0; at < bytes.Length; at += 1 << 26) _file.Write(bytes.Slice(at, Math.Min(1 << 26, bytes.Length - at)));
            _file.Flush();
        }
        catch (IOException e)
        {
            throw ScratchFile.WriteFailed("sort file", e);
        }
        _spilled.Add((offset, _filled));
        _filled = 0;
    }

    /// <summary>A reader of all keys in ascending order, from the start; several may be open one after another.</summary>
    public Reader Open()
    {
        Complete();
        return new Reader(this);
    }

    /// <summary>Hands out the sorted keys in pieces.</summary>
    public sealed class Reader
    {
        readonly SortedRuns _owner;
        readonly long _memoryCount;
        long _memoryAt;
        readonly RunCursor[] _cursors = Array.Empty<RunCursor>();
        readonly PriorityQueue<int, long> _heads = new();

        internal Reader(SortedRuns owner)
        {
            _owner = owner;
            if (!owner.Spilled) { _memoryCount = owner._filled; return; }
            _cursors = owner._spilled.Select(r => new RunCursor(owner._file!, r.Offset, r.Count)).ToArray();
            for (int i = 0; i < _cursors.Length; i++)
                if (_cursors[i].Fill()) _heads.Enqueue(i, _cursors[i].Head);
        }

        /// <summary>Fills <paramref name="output"/> with the next keys; returns how many (0 at the end).</summary>
        public int Fill(Span<long> output)
        {
            if (!_owner.Spilled)
            {
                int n = (int)Math.Min(output.Length, _memoryCount - _memoryAt);
                new ReadOnlySpan<long>(_owner._run + _memoryAt, n).CopyTo(output);
                _memoryAt += n;
                return n;
            }
            int o = 0;
            while (o < output.Length && _heads.TryDequeue(out int r, out _))
            {
                var c = _cursors[r];
                // Take this run's keys while they stay at or below every other run's next key (long stretches where
                // scores tie or runs do not interleave).
                long bound = _heads.TryPeek(out _, out long next) ? next : long.MaxValue;
                bool more = true;
                do
                {
                    output[o++] = c.Head;
                    more = c.Advance();
                } while (more && o < output.Length && c.Head <= bound);
                if (more) _heads.Enqueue(r, c.Head);
            }
            return o;
        }
    }

    /// <summary>One spilled run, read a block at a time.</summary>
    sealed class RunCursor
    {
        readonly FileStream _file;
        long _offset, _left;
        readonly long[] _block;
        int _at, _length;

        public RunCursor(FileStream file, long offset, long count)
        {
            _file = file; _offset = offset; _left = count;
            _block = new long[(int)Math.Min(ReadBlock, Math.Max(1, count))];
        }

        public long Head => _block[_at];

        /// <summary>Reads the next block; false when the run is done.</summary>
        public bool Fill()
        {
            if (_left == 0) return false;
            int n = (int)Math.Min(_block.Length, _left);
            var bytes = MemoryMarshal.AsBytes(_block.AsSpan(0, n));
            for (int got = 0; got < bytes.Length;)
            {
                int read = RandomAccess.Read(_file.SafeFileHandle, bytes[got..], _offset + got);
                if (read <= 0) throw new IOException("the evaluation's sort file ended early");
                got += read;
            }
            _offset += bytes.Length; _left -= n; _at = 0; _length = n;
            return true;
        }

        /// <summary>Moves to the next key; false when the run is done.</summary>
        public bool Advance() => ++_at < _length || Fill();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _file?.Dispose();
        _file = null;
        if (_run != null) { NativeMemory.Free(_run); _run = null; }
    }
}
