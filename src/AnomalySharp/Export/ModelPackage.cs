using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace AnomalySharp.Export;

/// <summary>
/// The model file (docs/model-format.md): a ZIP archive with <c>manifest.json</c> (format name and version,
/// configuration, normalization statistics, thresholds, dataset, and a list of tensors with shape, type and
/// SHA-256), <c>manifest.sha256</c>, and one raw little-endian file per tensor under <c>tensors/</c>.
/// Loading checks the format version and every checksum, so a damaged or foreign file is refused with a clear message.
/// </summary>
public static class ModelPackage
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
        using (var file = File.Create(tmp))
        using (var zip = new ZipArchive(file, ZipArchiveMode.Create))
        {
            foreach (var (name, t) in tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                var (dtype, bytes) = ToBytes(t);
                string entry = $"tensors/{name}.bin";
                using (var s = zip.CreateEntry(entry, CompressionLevel.Fastest).Open()) s.Write(bytes);
                list.Add(new JsonObject
                {
                    ["name"] = name, ["dtype"] = dtype, ["shape"] = new JsonArray(t.shape.Select(d => (JsonNode)d).ToArray()),
                    ["entry"] = entry, ["sha256"] = Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant(),
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
            using var zip = ZipFile.OpenRead(path);
            byte[] manifestBytes = ReadEntry(zip, "manifest.json", path);
            string expected = Encoding.ASCII.GetString(ReadEntry(zip, "manifest.sha256", path)).Trim();
            if (Convert.ToHexString(SHA256.HashData(manifestBytes)).ToLowerInvariant() != expected)
                throw new AnomalySharpException($"{path}: model file is damaged (manifest checksum mismatch)");
            var manifest = JsonNode.Parse(manifestBytes)?.AsObject()
                ?? throw new AnomalySharpException($"{path}: model file is damaged (empty manifest)");
            if ((string?)manifest["format"] != FormatName)
                throw new AnomalySharpException($"{path}: not an AnomalySharp model file");
            int version = (int?)manifest["format_version"] ?? -1;
            if (version != FormatVersion)
                throw new AnomalySharpException($"{path}: model file format version {version} is not supported by this version (reads version {FormatVersion}); retrain or use a matching AnomalySharp");
            var tensors = new Dictionary<string, Tensor>();
            try
            {
                foreach (var node in manifest["tensors"]!.AsArray())
                {
                    string name = (string)node!["name"]!, entry = (string)node["entry"]!, dtype = (string)node["dtype"]!;
                    long[] shape = node["shape"]!.AsArray().Select(d => (long)d!).ToArray();
                    byte[] bytes = ReadEntry(zip, entry, path);
                    if (Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant() != (string?)node["sha256"])
                        throw new AnomalySharpException($"{path}: model file is damaged (checksum mismatch in {entry})");
                    tensors[name] = FromBytes(bytes, dtype, shape, path);
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
        catch (Exception e) when (e is InvalidDataException or JsonException or NullReferenceException or InvalidCastException or FormatException)
        {
            throw new AnomalySharpException($"{path}: model file is damaged or not a model file ({e.Message})", e);
        }
    }

    static byte[] ReadEntry(ZipArchive zip, string name, string path)
    {
        var entry = zip.GetEntry(name) ?? throw new AnomalySharpException($"{path}: model file is damaged (missing {name})");
        using var s = entry.Open();
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }

    static (string, byte[]) ToBytes(Tensor t)
    {
        var c = t.contiguous();
        try
        {
            return t.dtype switch
            {
                ScalarType.Float32 => ("float32", System.Runtime.InteropServices.MemoryMarshal.AsBytes(c.data<float>().ToArray().AsSpan()).ToArray()),
                ScalarType.Float16 => ("float16", System.Runtime.InteropServices.MemoryMarshal.AsBytes(c.data<Half>().ToArray().AsSpan()).ToArray()),
                ScalarType.Int64 => ("int64", System.Runtime.InteropServices.MemoryMarshal.AsBytes(c.data<long>().ToArray().AsSpan()).ToArray()),
                _ => throw new NotSupportedException($"cannot save tensors of type {t.dtype}"),
            };
        }
        finally { if (!ReferenceEquals(c, t)) c.Dispose(); }
    }

    static Tensor FromBytes(byte[] bytes, string dtype, long[] shape, string path)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        int size = dtype switch { "float32" => 4, "float16" => 2, "int64" => 8, _ => throw new AnomalySharpException($"{path}: unknown tensor type '{dtype}'") };
        if (bytes.Length != count * size) throw new AnomalySharpException($"{path}: model file is damaged (tensor size mismatch)");
        return dtype switch
        {
            "float32" => tensor(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray(), shape),
            "float16" => tensor(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(bytes).ToArray(), shape),
            _ => tensor(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(bytes).ToArray(), shape),
        };
    }
}
