using System.Text;
using Microsoft.Win32.SafeHandles;
using Onnx;
using static TorchSharp.torch;

namespace AnomalySharp.Graphs;

/// <summary>
/// An ONNX model read for its float weights: the graph's nodes are parsed as usual, but each initializer is only
/// located in the file (its packed float_data or raw_data) until it is asked for as a tensor, and then read from the
/// file straight into the tensor's storage. ResNet18's 64 MB file is then read once, weight by weight, into memory
/// that is used anyway: a full protobuf parse made an object per float and cost over a second at every start of a
/// process that fits or exports, and reading the whole file into one array first cost 0.2-0.4 s more in page faults
/// on fresh memory (12 µs a page on the virtual machines we measure on).
/// </summary>
internal sealed class OnnxWeightFile : IDisposable
{
    sealed record Weight(int DataType, long[] Shape, long Offset, long Length);

    readonly string _path;
    readonly SafeFileHandle _file;
    readonly Dictionary<string, Weight> _weights = new(StringComparer.Ordinal);

    /// <summary>The graph without its initializers (nodes, inputs, outputs).</summary>
    public GraphProto Graph { get; }

    OnnxWeightFile(string path)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX weights are little-endian");
        _path = path;
        _file = File.OpenHandle(path);
        try
        {
            var reader = new WireReader(_file, path);
            var model = new Wire(reader, 0, RandomAccess.GetLength(_file));
            (long Start, long End)? graph = null;
            while (model.More)
            {
                var (field, type) = model.Tag();
                if (field == 7 && type == 2) graph = model.Bytes();
                else model.Skip(type);
            }
            if (graph is not { } g) throw new InvalidDataException($"{path}: no graph in the ONNX model");
            var rest = new MemoryStream();
            var wire = new Wire(reader, g.Start, g.End);
            while (wire.More)
            {
                long fieldStart = wire.Position;
                var (field, type) = wire.Tag();
                if (field == 5 && type == 2)
                {
                    var (start, end) = wire.Bytes();
                    ReadInitializer(reader, new Wire(reader, start, end));
                    continue;
                }
                wire.Skip(type);
                rest.Write(reader.Read(fieldStart, wire.Position));
            }
            Graph = GraphProto.Parser.ParseFrom(rest.ToArray());
        }
        catch
        {
            _file.Dispose();
            throw;
        }
    }

    /// <summary>Opens <paramref name="path"/> and reads its graph; the weights are read by <see cref="Tensor"/>.</summary>
    public static OnnxWeightFile Read(string path) => new(path);

    /// <inheritdoc />
    public void Dispose() => _file.Dispose();

    void ReadInitializer(WireReader reader, Wire t)
    {
        string? name = null;
        int dataType = 0;
        var shape = new List<long>();
        (long Start, long End) data = (0, 0);
        while (t.More)
        {
            var (field, type) = t.Tag();
            switch (field, type)
            {
                case (1, 0): shape.Add((long)t.Varint()); break;
                case (1, 2):
                    var (s, e) = t.Bytes();
                    var dims = new Wire(reader, s, e);
                    while (dims.More) shape.Add((long)dims.Varint());
                    break;
                case (2, 0): dataType = (int)t.Varint(); break;
                case (4, 2) or (9, 2): data = t.Bytes(); break;
                case (4, 5): throw new InvalidDataException($"{_path}: unpacked float_data is not supported");
                case (8, 2):
                    var (ns, ne) = t.Bytes();
                    if (ne - ns > 4096) throw new InvalidDataException($"{_path}: an initializer's name is over 4096 bytes");
                    name = Encoding.UTF8.GetString(reader.Read(ns, ne));
                    break;
                case (14, 0):
                    if (t.Varint() != 0) throw new InvalidDataException($"{_path}: weights stored outside the file are not supported");
                    break;
                default: t.Skip(type); break;
            }
        }
        if (name == null) throw new InvalidDataException($"{_path}: an initializer has no name");
        _weights[name] = new Weight(dataType, shape.ToArray(), data.Start, data.End - data.Start);
    }

    /// <summary>Whether the graph has an initializer <paramref name="name"/>.</summary>
    public bool Contains(string name) => _weights.ContainsKey(name);

    /// <summary>A new float32 tensor holding initializer <paramref name="name"/>.</summary>
    public Tensor Tensor(string name)
    {
        if (!_weights.TryGetValue(name, out var w)) throw new InvalidDataException($"{_path}: no initializer {name}");
        if (w.DataType != (int)TensorProto.Types.DataType.Float) throw new InvalidDataException($"initializer {name} is not float32");
        long count = w.Shape.Aggregate(1L, (a, b) => a * b);
        if (w.Shape.Any(d => d < 0) || count * 4 != w.Length)
            throw new InvalidDataException($"{_path}: initializer {name} holds {w.Length} bytes, not the {count} floats of its shape");
        // Straight from the file into the tensor's storage: tensor(float[]) took half a second for ResNet18's 16 M weights.
        var result = empty(w.Shape, ScalarType.Float32);
        try
        {
            var storage = result.bytes;
            for (int done = 0; done < storage.Length;)
            {
                int n = RandomAccess.Read(_file, storage[done..], w.Offset + done);
                if (n <= 0) throw new InvalidDataException($"{_path}: the file ended inside initializer {name}");
                done += n;
            }
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>Reads the file through a small window: the structure is read, the weights' bytes are skipped.</summary>
    sealed class WireReader(SafeFileHandle file, string path)
    {
        readonly byte[] _window = new byte[1 << 16];
        long _windowStart;
        int _windowCount;

        public string Path => path;

        public byte ByteAt(long position)
        {
            long i = position - _windowStart;
            if (i < 0 || i >= _windowCount)
            {
                _windowStart = position;
                _windowCount = RandomAccess.Read(file, _window, position);
                i = 0;
                if (_windowCount <= 0) throw new InvalidDataException($"{path}: damaged ONNX model (the file ends at byte {position})");
            }
            return _window[i];
        }

        /// <summary>The bytes in [start, end) (a name, a node list: never a weight).</summary>
        public byte[] Read(long start, long end)
        {
            var bytes = new byte[checked((int)(end - start))];
            if (start >= _windowStart && end <= _windowStart + _windowCount)
            {
                _window.AsSpan((int)(start - _windowStart), bytes.Length).CopyTo(bytes);
                return bytes;
            }
            for (int done = 0; done < bytes.Length;)
            {
                int n = RandomAccess.Read(file, bytes.AsSpan(done), start + done);
                if (n <= 0) throw new InvalidDataException($"{path}: damaged ONNX model (the file ends at byte {start + done})");
                done += n;
            }
            return bytes;
        }
    }

    /// <summary>A cursor over protobuf wire format within [start, end), every read checked against the end.</summary>
    struct Wire(WireReader reader, long start, long end)
    {
        long _at = start;

        public readonly long Position => _at;
        public readonly bool More => _at < end;

        public (int Field, int Type) Tag()
        {
            ulong tag = Varint();
            if (tag >> 3 is 0 or > int.MaxValue) throw Damaged();
            return ((int)(tag >> 3), (int)(tag & 7));
        }

        public ulong Varint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (_at >= end) throw Damaged();
                byte b = reader.ByteAt(_at++);
                value |= (ulong)(b & 0x7f) << shift;
                if (b < 0x80) return value;
            }
            throw Damaged();
        }

        public (long Start, long End) Bytes()
        {
            ulong length = Varint();
            if (length > (ulong)(end - _at)) throw Damaged();
            long s = _at;
            _at += (long)length;
            return (s, _at);
        }

        public void Skip(int type)
        {
            switch (type)
            {
                case 0: Varint(); break;
                case 1: Advance(8); break;
                case 2: Bytes(); break;
                case 5: Advance(4); break;
                default: throw Damaged();
            }
        }

        void Advance(int n)
        {
            if (n > end - _at) throw Damaged();
            _at += n;
        }

        readonly InvalidDataException Damaged() => new($"{reader.Path}: damaged ONNX model (protobuf wire format, byte {_at})");
    }
}
