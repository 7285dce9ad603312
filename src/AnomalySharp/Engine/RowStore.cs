using static TorchSharp.torch;

namespace AnomalySharp.Engine;

/// <summary>
/// A fixed number of equally shaped tensor rows (an evaluation's maps, masks or pictures), written once in any order
/// and read back row by row: in one tensor when they fit the memory allowed them, else in a temporary file (deleted
/// on dispose), so a 2048² evaluation holds one image at a time, not gigabytes.
/// </summary>
internal sealed class RowStore : IDisposable
{
    readonly long[] _rowShape;
    readonly ScalarType _dtype;
    readonly long _rowBytes;
    Tensor? _memory;
    FileStream? _file;

    /// <summary>Number of rows.</summary>
    public long Count { get; }

    /// <summary>Room for <paramref name="count"/> rows shaped <paramref name="rowShape"/>: in one tensor, or (<paramref name="inMemory"/>
    /// false) in a temporary file.</summary>
    public RowStore(long count, long[] rowShape, ScalarType dtype, bool inMemory)
    {
        _rowShape = rowShape; _dtype = dtype; Count = count;
        using (var probe = empty(1, dtype: dtype)) _rowBytes = rowShape.Aggregate(1L, (a, b) => a * b) * probe.ElementSize;
        if (inMemory)
            _memory = zeros(new[] { count }.Concat(rowShape).ToArray(), dtype: dtype).DetachFromDisposeScope();
        else
            _file = Metrics.ScratchFile.Create("rows", 1);
    }

    /// <summary>Writes <paramref name="rows"/> ([b, …row shape], any dtype convertible to the store's) at row <paramref
    /// name="at"/>.</summary>
    public void Write(long at, Tensor rows)
    {
        long b = rows.shape[0];
        if (at < 0 || at + b > Count) throw new ArgumentOutOfRangeException(nameof(at));
        if (_memory is not null) { using var view = _memory.narrow(0, at, b); view.copy_(rows); return; }
        using var scope = NewDisposeScope();
        var data = rows.to_type(_dtype).contiguous();
        try
        {
            RandomAccess.Write(_file!.SafeFileHandle, data.bytes, at * _rowBytes);
        }
        catch (IOException e)
        {
            throw Metrics.ScratchFile.WriteFailed("maps", e);
        }
    }

    /// <summary>Row <paramref name="index"/>, shaped [1, …row shape]: a view of memory or a fresh tensor read from the file; the caller
    /// disposes it.</summary>
    public Tensor Read(long index)
    {
        if (index < 0 || index >= Count) throw new ArgumentOutOfRangeException(nameof(index));
        if (_memory is not null) return _memory.narrow(0, index, 1);
        var row = empty(new[] { 1L }.Concat(_rowShape).ToArray(), dtype: _dtype);
        var bytes = row.bytes;
        for (int got = 0; got < bytes.Length;)
        {
            int read = RandomAccess.Read(_file!.SafeFileHandle, bytes[got..], index * _rowBytes + got);
            if (read <= 0) throw new IOException("the evaluation's row file ended early");
            got += read;
        }
        return row;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _memory?.Dispose(); _memory = null;
        _file?.Dispose(); _file = null;
    }
}
