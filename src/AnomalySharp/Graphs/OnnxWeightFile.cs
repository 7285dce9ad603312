using System.Text;
using Onnx;
using static TorchSharp.torch;

namespace AnomalySharp.Graphs;

/// <summary>
/// An ONNX model read for its float weights: the graph's nodes are parsed as usual, but each initializer stays a span
/// of the file's bytes (its packed float_data or raw_data) until it is asked for as a tensor. ResNet18's 64 MB file
/// is then one read and one copy per weight, where a full protobuf parse made an object per float and cost over a
/// second at every start of a process that fits or exports.
/// </summary>
internal sealed class OnnxWeightFile
{
    sealed record Weight(int DataType, long[] Shape, int Offset, int Length);

    readonly string _path;
    readonly byte[] _bytes;
    readonly Dictionary<string, Weight> _weights = new(StringComparer.Ordinal);

    /// <summary>The graph without its initializers (nodes, inputs, outputs).</summary>
    public GraphProto Graph { get; }

    OnnxWeightFile(string path, byte[] bytes)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX weights are little-endian");
        _path = path;
        _bytes = bytes;
        var model = new Wire(bytes, 0, bytes.Length, path);
        (int Start, int End)? graph = null;
        while (model.More)
        {
            var (field, type) = model.Tag();
            if (field == 7 && type == 2) graph = model.Bytes();
            else model.Skip(type);
        }
        if (graph is not { } g) throw new InvalidDataException($"{path}: no graph in the ONNX model");
        var rest = new MemoryStream();
        var wire = new Wire(bytes, g.Start, g.End, path);
        while (wire.More)
        {
            int fieldStart = wire.Position;
            var (field, type) = wire.Tag();
            if (field == 5 && type == 2)
            {
                var (start, end) = wire.Bytes();
                ReadInitializer(new Wire(bytes, start, end, path));
                continue;
            }
            wire.Skip(type);
            rest.Write(bytes, fieldStart, wire.Position - fieldStart);
        }
        Graph = GraphProto.Parser.ParseFrom(rest.ToArray());
    }

    /// <summary>Reads <paramref name="path"/>.</summary>
    public static OnnxWeightFile Read(string path) => new(path, File.ReadAllBytes(path));

    void ReadInitializer(Wire t)
    {
        string? name = null;
        int dataType = 0;
        var shape = new List<long>();
        (int Start, int End) data = (0, 0);
        while (t.More)
        {
            var (field, type) = t.Tag();
            switch (field, type)
            {
                case (1, 0): shape.Add((long)t.Varint()); break;
                case (1, 2):
                    var (s, e) = t.Bytes();
                    var dims = new Wire(_bytes, s, e, _path);
                    while (dims.More) shape.Add((long)dims.Varint());
                    break;
                case (2, 0): dataType = (int)t.Varint(); break;
                case (4, 2) or (9, 2): data = t.Bytes(); break;
                case (4, 5): throw new InvalidDataException($"{_path}: unpacked float_data is not supported");
                case (8, 2):
                    var (ns, ne) = t.Bytes();
                    name = Encoding.UTF8.GetString(_bytes, ns, ne - ns);
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
        // Straight into the tensor's storage: tensor(float[]) took half a second for ResNet18's 16 M weights.
        var result = empty(w.Shape, ScalarType.Float32);
        _bytes.AsSpan(w.Offset, w.Length).CopyTo(result.bytes);
        return result;
    }

    /// <summary>A cursor over protobuf wire format within [start, end), every read checked against the end.</summary>
    struct Wire(byte[] bytes, int start, int end, string path)
    {
        int _at = start;

        public readonly int Position => _at;
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
                byte b = bytes[_at++];
                value |= (ulong)(b & 0x7f) << shift;
                if (b < 0x80) return value;
            }
            throw Damaged();
        }

        public (int Start, int End) Bytes()
        {
            ulong length = Varint();
            if (length > (ulong)(end - _at)) throw Damaged();
            int s = _at;
            _at += (int)length;
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

        readonly InvalidDataException Damaged() => new($"{path}: damaged ONNX model (protobuf wire format, byte {_at})");
    }
}
