using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace AnomalySharp.Runtime;

/// <summary>
/// A small builder for ONNX graphs (opset <see cref="Opset"/>, default domain): constants, nodes with fresh value
/// names, inputs, outputs and metadata. Models append their layers to it when they export themselves; nothing in it
/// knows a particular model. Also used by the runtime for its small pre- and post-processing graphs.
/// </summary>
public sealed class OnnxGraph
{
    /// <summary>The default-domain opset every exported graph declares.</summary>
    public const int Opset = 17;

    /// <summary>
    /// The most constant bytes a graph may hold: ONNX files are one protobuf message, limited to 2 GB, less room for
    /// the nodes and metadata.
    /// </summary>
    public const long MaxConstantBytes = 1_900_000_000;

    readonly GraphProto _graph = new() { Name = "anomalysharp" };
    readonly Dictionary<string, string> _scalars = new();
    readonly SortedDictionary<string, long> _domains = new(StringComparer.Ordinal);
    int _counter;

    /// <summary>
    /// Imports the operator set of another domain than the default one, for nodes copied from a user's network (e.g.
    /// com.microsoft operators that ONNX Runtime's optimizer wrote). One version per domain; a second, different one
    /// is an error naming both.
    /// </summary>
    public void ImportDomain(string domain, long version)
    {
        if (domain is "" or "ai.onnx") throw new ArgumentException("the default domain's opset is given to ToModel", nameof(domain));
        if (_domains.TryGetValue(domain, out long known) && known != version)
            throw new InvalidOperationException($"operator set {domain} imported at version {known} and at {version}");
        _domains[domain] = version;
    }

    /// <summary>The nodes so far (exposed for graph rewrites such as quantization).</summary>
    public GraphProto Graph => _graph;

    /// <summary>The bytes of all constants added so far (compare with <see cref="MaxConstantBytes"/>).</summary>
    public long ConstantBytes { get; private set; }

    /// <summary>A prefix for the names of nodes added from now on (e.g. "backbone/"), so rewrites can find a part.</summary>
    public string Scope { get; set; } = "";

    /// <summary>A value name not used before, starting with <paramref name="hint"/>.</summary>
    public string Fresh(string hint) => $"{hint}_{_counter++}";

    /// <summary>A float32 constant.</summary>
    public string Constant(string hint, ReadOnlySpan<float> data, params long[] dims) =>
        AddInitializer(hint, TensorProto.Types.DataType.Float, MemoryMarshal.AsBytes(data), dims);

    /// <summary>An int64 constant.</summary>
    public string Constant(string hint, ReadOnlySpan<long> data, params long[] dims) =>
        AddInitializer(hint, TensorProto.Types.DataType.Int64, MemoryMarshal.AsBytes(data), dims);

    /// <summary>A constant of raw little-endian bytes and any element type.</summary>
    public string AddInitializer(string hint, TensorProto.Types.DataType type, ReadOnlySpan<byte> bytes, params long[] dims)
    {
        var t = new TensorProto { Name = Fresh(hint), DataType = (int)type, RawData = ByteString.CopyFrom(bytes) };
        t.Dims.AddRange(dims);
        _graph.Initializer.Add(t);
        ConstantBytes += bytes.Length;
        return t.Name;
    }

    /// <summary>A float32 scalar constant (shared by value).</summary>
    public string Scalar(float value)
    {
        string key = value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        if (!_scalars.TryGetValue(key, out string? name)) _scalars[key] = name = Constant("scalar", new[] { value });
        return name;
    }

    /// <summary>An int64 vector constant (shapes, axes, sizes).</summary>
    public string Ints(params long[] values) => Constant("ints", values, values.Length);

    /// <summary>Adds a node with one output and returns the output's name.</summary>
    public string Node(string op, string[] inputs, params AttributeProto[] attributes) => Node(op, inputs, 1, attributes)[0];

    /// <summary>Adds a node with <paramref name="outputs"/> outputs and returns their names.</summary>
    public string[] Node(string op, string[] inputs, int outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = Scope + Fresh(op) };
        node.Input.AddRange(inputs);
        var names = Enumerable.Range(0, outputs).Select(_ => Fresh(op.ToLowerInvariant())).ToArray();
        node.Output.AddRange(names);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return names;
    }

    /// <summary>Renames a value produced by a node (to give graph outputs stable names).</summary>
    public void Rename(string from, string to)
    {
        foreach (var n in _graph.Node)
        {
            for (int i = 0; i < n.Output.Count; i++) if (n.Output[i] == from) n.Output[i] = to;
            for (int i = 0; i < n.Input.Count; i++) if (n.Input[i] == from) n.Input[i] = to;
        }
    }

    /// <summary>An integer attribute.</summary>
    public static AttributeProto Attr(string name, long value) => new()
    {
        Name = name, Type = AttributeProto.Types.AttributeType.Int,
        I = value
    };
    /// <summary>A float attribute.</summary>
    public static AttributeProto Attr(string name, float value) => new()
    {
        Name = name, Type = AttributeProto.Types.AttributeType.Float,
        F = value
    };
    /// <summary>A string attribute.</summary>
    public static AttributeProto Attr(string name, string value) => new()
    {
        Name = name,
        Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value)
    };
    /// <summary>An integer-list attribute.</summary>
    public static AttributeProto Attrs(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    /// <summary>Declares a float32 graph input; a dimension is a number or a symbolic name.</summary>
    public void Input(string name, params object[] dims) => _graph.Input.Add(ValueInfo(name, dims));

    /// <summary>Declares a graph input of any element type.</summary>
    public void Input(string name, TensorProto.Types.DataType type, params object[] dims) => _graph.Input.Add(ValueInfo(name, dims, type));

    /// <summary>Declares a graph output of any element type.</summary>
    public void Output(string name, TensorProto.Types.DataType type, params object[] dims) => _graph.Output.Add(ValueInfo(name, dims,
        type));

    /// <summary>Declares a float32 graph output.</summary>
    public void Output(string name, params object[] dims) => _graph.Output.Add(ValueInfo(name, dims));

    static ValueInfoProto ValueInfo(string name, object[] dims, TensorProto.Types.DataType type = TensorProto.Types.DataType.Float)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d is string s
                ? new TensorShapeProto.Types.Dimension { DimParam = s }
                    : new TensorShapeProto.Types.Dimension
                    {
                        DimValue = Convert.ToInt64(d,
                        System.Globalization.CultureInfo.InvariantCulture)
                    });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    /// <summary>The model: IR version 8, default-domain opset <paramref name="opset"/> (<see cref="Opset"/> unless given) and the imported
    /// domains, with string metadata.</summary>
    public ModelProto ToModel(IReadOnlyDictionary<string, string> metadata, string docString, int opset = Opset)
    {
        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "AnomalySharp",
            ProducerVersion = typeof(OnnxGraph).Assembly.GetName().Version?.ToString() ?? "",
            DocString = docString,
            Graph = _graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        foreach (var (domain, version) in _domains) model.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = version });
        foreach (var (k, v) in metadata) model.MetadataProps.Add(new StringStringEntryProto { Key = k, Value = v });
        return model;
    }
}
