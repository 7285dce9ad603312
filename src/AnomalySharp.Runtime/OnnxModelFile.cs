using System.Security.Cryptography;
using System.Text;

namespace AnomalySharp.Runtime;

/// <summary>
/// Reads the top level of an ONNX file (a protobuf ModelProto) without a protobuf library and without copying it: the
/// <c>metadata_props</c> and where the graph's bytes lie. Every export carries the SHA-256 of its graph bytes (the
/// weights included) in <see cref="ChecksumKey"/>; <see cref="Verify"/> recomputes it before ONNX Runtime sees the
/// bytes, so a damaged file is refused instead of scoring wrongly.
/// </summary>
public static class OnnxModelFile
{
    /// <summary>The metadata key holding the hex SHA-256 of the serialized graph.</summary>
    public const string ChecksumKey = "anomalysharp.graph_sha256";

    /// <summary>The top-level structure of a model file.</summary>
    /// <param name="Metadata">metadata_props (last value wins for a repeated key).</param>
    /// <param name="GraphOffset">Where the graph's bytes start (-1 when there is no graph).</param>
    /// <param name="GraphLength">How many bytes the graph has.</param>
    public sealed record Layout(IReadOnlyDictionary<string, string> Metadata, long GraphOffset, long GraphLength);

    /// <summary>Walks the top-level fields; throws <see cref="ModelLoadException"/> on a malformed or truncated file.</summary>
    public static Layout Read(ReadOnlySpan<byte> b, string name)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        long graphOffset = -1, graphLength = 0;
        int i = 0;
        while (i < b.Length)
        {
            ulong tag = Varint(b, ref i, name);
            int field = (int)(tag >> 3), wire = (int)(tag & 7);
            if (field == 0) throw Malformed(name, "field number 0");
            switch (wire)
            {
                case 0: Varint(b, ref i, name); break;
                case 1: Skip(b, ref i, 8, name); break;
                case 5: Skip(b, ref i, 4, name); break;
                case 2:
                    ulong length = Varint(b, ref i, name);
                    if (length > (ulong)(b.Length - i)) throw Malformed(name, "a field runs past the end of the file (truncated?)");
                    var value = b.Slice(i, (int)length);
                    if (field == 7) { graphOffset = i; graphLength = (long)length; }
                    else if (field == 14) { var (k, v) = Entry(value, name); metadata[k] = v; }
                    i += (int)length;
                    break;
                default: throw Malformed(name, $"wire type {wire}");
            }
        }
        return new Layout(metadata, graphOffset, graphLength);
    }

    /// <summary>The hex SHA-256 of a graph's serialized bytes.</summary>
    public static string Checksum(ReadOnlySpan<byte> graphBytes) => Convert.ToHexString(SHA256.HashData(graphBytes)).ToLowerInvariant();

    /// <summary>
    /// Checks that the file is an AnomalySharp export whose graph matches its checksum; returns its layout.
    /// </summary>
    /// <exception cref="ModelLoadException">Malformed, truncated, without a checksum, or damaged.</exception>
    public static Layout Verify(ReadOnlySpan<byte> bytes, string name)
    {
        var layout = Read(bytes, name);
        if (layout.GraphOffset < 0) throw new ModelLoadException($"{name}: not an ONNX model (no graph)");
        if (!layout.Metadata.TryGetValue("anomalysharp.format", out _))
            throw new ModelLoadException($"{name}: not an AnomalySharp export (no anomalysharp metadata; export with `anomalysharp "
                + $"export`)");
        if (!layout.Metadata.TryGetValue(ChecksumKey, out var expected))
            throw new ModelLoadException($"{name}: exported without a weights checksum by an older AnomalySharp; export it again from "
                + $"its model.anomalysharp with `anomalysharp export`");
        string actual = Checksum(bytes.Slice((int)layout.GraphOffset, (int)layout.GraphLength));
        if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
            throw new ModelLoadException($"{name}: model file is damaged (the graph's checksum does not match its metadata)");
        return layout;
    }

    static (string Key, string Value) Entry(ReadOnlySpan<byte> b, string name)
    {
        string key = "", value = "";
        int i = 0;
        while (i < b.Length)
        {
            ulong tag = Varint(b, ref i, name);
            if ((tag & 7) != 2) throw Malformed(name, "bad metadata entry");
            ulong length = Varint(b, ref i, name);
            if (length > (ulong)(b.Length - i)) throw Malformed(name, "bad metadata entry");
            string s = Encoding.UTF8.GetString(b.Slice(i, (int)length));
            if (tag >> 3 == 1) key = s; else if (tag >> 3 == 2) value = s;
            i += (int)length;
        }
        return (key, value);
    }

    static ulong Varint(ReadOnlySpan<byte> b, ref int i, string name)
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (i >= b.Length) throw Malformed(name, "truncated");
            byte x = b[i++];
            result |= (ulong)(x & 0x7F) << shift;
            if ((x & 0x80) == 0) return result;
        }
        throw Malformed(name, "bad varint");
    }

    static void Skip(ReadOnlySpan<byte> b, ref int i, int count, string name)
    {
        if (b.Length - i < count) throw Malformed(name, "truncated");
        i += count;
    }

    static ModelLoadException Malformed(string name, string what) => new($"{name}: not a loadable ONNX model ({what})");
}
