using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace AnomalySharp.Packaging;

/// <summary>
/// The model file (docs/model-format.md): a ZIP archive with <c>manifest.json</c> (format name and version,
/// configuration, normalization statistics, thresholds, dataset, and a list of tensors with shape, type and
/// SHA-256), <c>manifest.sha256</c>, and one raw little-endian file per tensor under <c>tensors/</c>.
/// Loading checks the format version and every checksum, so a damaged or foreign file is refused with a clear message.
/// </summary>
internal static class ModelPackage
{
    /// <summary>The format name in every manifest.</summary>
    public const string FormatName = "anomalysharp-model";
    /// <summary>The version this library writes and reads.</summary>
    public const int FormatVersion = 1;
    /// <summary>The file name used inside a training output folder.</summary>
    public const string FileName = "model.anomalysharp";

    /// <summary>Writes a package. <paramref name="manifest"/> holds the non-tensor fields.</summary>
    public static void Save(string path, JsonObject manifest, IReadOnlyDictionary<string, Tensor> tensors)
    {
        manifest["format"] = FormatName;
        manifest["format_version"] = FormatVersion;
        var list = new JsonArray();
        string tmp = path + ".tmp";
        using (var file = IO.LargeFile.Create(tmp))
        using (var zip = new ZipArchive(file, ZipArchiveMode.Create))
        {
            foreach (var (name, t) in tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                // The tensor's own memory is written and hashed: no managed copy of hundreds of megabytes.
                using var c = t.contiguous();
                string dtype = DtypeName(t.dtype);
                string entry = $"tensors/{name}.bin";
                // Floating-point weights do not deflate (a 246 MB network came out 5.6% larger, and slower to write and
                // read); integer tensors (indices) do.
                var level = t.dtype == ScalarType.Int64 ? CompressionLevel.Fastest : CompressionLevel.NoCompression;
                using (var s = zip.CreateEntry(entry, level).Open()) s.Write(c.bytes);
                list.Add(new JsonObject
                {
                    ["name"] = name, ["dtype"] = dtype, ["shape"] = new JsonArray(t.shape.Select(d => (JsonNode)d).ToArray()),
                    ["entry"] = entry, ["sha256"] = Convert.ToHexString(SHA256.HashData(c.bytes)).ToLowerInvariant(),
                });
            }
            manifest["tensors"] = list;
            byte[] manifestBytes = Encoding.UTF8.GetBytes(manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            using (var s = zip.CreateEntry("manifest.json").Open()) s.Write(manifestBytes);
            using (var s = zip.CreateEntry("manifest.sha256").Open())
                s.Write(Encoding.ASCII.GetBytes(Convert.ToHexString(SHA256.HashData(manifestBytes)).ToLowerInvariant()));
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Reads and verifies a package: the manifest and the tensors (owned by the caller).</summary>
    public static (JsonObject Manifest, Dictionary<string, Tensor> Tensors) Load(string path)
    {
        if (!File.Exists(path)) throw new AnomalySharpException($"model file not found: {path}");
        try
        {
            using var zip = new ZipArchive(IO.LargeFile.OpenRead(path), ZipArchiveMode.Read);
            byte[] manifestBytes = ReadEntry(zip, "manifest.json", path);
            string expected = Encoding.ASCII.GetString(ReadEntry(zip, "manifest.sha256", path)).Trim();
            if (Convert.ToHexString(SHA256.HashData(manifestBytes)).ToLowerInvariant() != expected)
                throw new AnomalySharpException($"{path}: model file is damaged (manifest checksum mismatch)");
            var manifest = JsonNode.Parse(manifestBytes)?.AsObject()
                ?? throw new AnomalySharpException($"{path}: model file is damaged (empty manifest)");
            if ((string?)manifest["format"] != FormatName)
                throw new AnomalySharpException($"{path}: not an AnomalySharp model file");
            var versionNode = manifest["format_version"];
            int version = versionNode is JsonValue v && v.TryGetValue(out int n) ? n : -1;
            if (version != FormatVersion)
                throw new AnomalySharpException($"{path}: model file format version {versionNode?.ToJsonString() ?? "(none)"} is not "
                    + $"supported by this version (reads version {FormatVersion}); retrain or use a matching AnomalySharp");
            var tensors = new Dictionary<string, Tensor>();
            try
            {
                foreach (var node in manifest["tensors"]!.AsArray())
                {
                    string name = (string)node!["name"]!, entry = (string)node["entry"]!, dtype = (string)node["dtype"]!;
                    long[] shape = node["shape"]!.AsArray().Select(d => (long)d!).ToArray();
                    tensors[name] = ReadTensor(zip, entry, dtype, shape, (string?)node["sha256"], path);
                }
            }
            catch
            {
                // A damaged later entry must not leave the tensors already read to the garbage collector.
                foreach (var t in tensors.Values) t.Dispose();
                throw;
            }
            return (manifest, tensors);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or JsonException or NullReferenceException
            or InvalidCastException or FormatException)
        {
            throw new AnomalySharpException($"{path}: model file is damaged or not a model file ({e.Message})", e);
        }
    }

    /// <summary>Small entries (manifest, checksum) are read whole, up to this size.</summary>
    const long MaxSmallEntry = 16L << 20;
    /// <summary>The largest expansion a deflate stream can give: a declared tensor beyond it cannot be genuine.</summary>
    const long MaxDeflateRatio = 1032;

    static byte[] ReadEntry(ZipArchive zip, string name, string path)
    {
        var entry = zip.GetEntry(name) ?? throw new AnomalySharpException($"{path}: model file is damaged (missing {name})");
        if (entry.Length > MaxSmallEntry) throw new AnomalySharpException($"{path}: model file is damaged ({name} declares "
            + $"{entry.Length} bytes)");
        using var s = entry.Open();
        var bytes = new byte[entry.Length];
        s.ReadExactly(bytes);
        if (s.ReadByte() != -1) throw new AnomalySharpException($"{path}: model file is damaged ({name} is longer than declared)");
        return bytes;
    }

    /// <summary>
    /// Reads one tensor entry straight into the tensor's memory, hashing it on the way. The manifest's shape and type fix
    /// the size; the entry must declare exactly that size, a size its compressed length can hold, and then give
    /// exactly that many bytes, so a damaged or hostile file is refused before it can make the reader allocate more.
    /// </summary>
    static Tensor ReadTensor(ZipArchive zip, string name, string dtype, long[] shape, string? sha256, string path)
    {
        var entry = zip.GetEntry(name) ?? throw new AnomalySharpException($"{path}: model file is damaged (missing {name})");
        var (type, elementSize) = Dtypes.FirstOrDefault(d => d.Name == dtype) is { Name: not null } known ? (known.Type, known.Size)
            : throw new AnomalySharpException($"{path}: unknown tensor type '{dtype}'");
        long count = 1;
        foreach (long d in shape)
        {
            if (d < 0) throw new AnomalySharpException($"{path}: model file is damaged (negative dimension in {name})");
            count = d == 0 || count <= long.MaxValue / d / 8 ? count * d : throw new AnomalySharpException($"{path}: model file is "
                + $"damaged ({name} is too large)");
        }
        long size = count * elementSize;
        if (entry.Length != size) throw new AnomalySharpException($"{path}: model file is damaged (tensor size mismatch in {name})");
        if (size > Math.Max(1, entry.CompressedLength) * MaxDeflateRatio || size > Array.MaxLength)
            throw new AnomalySharpException($"{path}: model file is damaged ({name} declares {size} bytes from {entry.CompressedLength})");
        var t = empty(shape, dtype: type);
        try
        {
            using (var s = entry.Open())
            {
                s.ReadExactly(t.bytes);
                if (s.ReadByte() != -1) throw new AnomalySharpException($"{path}: model file is damaged ({name} is longer than declared)");
            }
            if (Convert.ToHexString(SHA256.HashData(t.bytes)).ToLowerInvariant() != sha256)
                throw new AnomalySharpException($"{path}: model file is damaged (checksum mismatch in {name})");
            return t;
        }
        catch
        {
            t.Dispose();
            throw;
        }
    }

    /// <summary>The tensor types a package holds: the manifest's name, TorchSharp's type and bytes per element.</summary>
    static readonly (string Name, ScalarType Type, int Size)[] Dtypes =
    {
        ("float32", ScalarType.Float32, 4), ("float16", ScalarType.Float16, 2), ("int64", ScalarType.Int64, 8),
        ("float64", ScalarType.Float64, 8),
    };

    static string DtypeName(ScalarType type) => Dtypes.FirstOrDefault(d => d.Type == type).Name
        ?? throw new NotSupportedException($"cannot save tensors of type {type}");
}
