using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using AnomalySharp.Packaging;
using static TorchSharp.torch;

namespace AnomalySharp.Tests.Export;

/// <summary>The model file reads straight into tensors, and sizes come from the manifest, checked before anything is allocated.</summary>
public class ModelPackageTests
{
    static string SavePackage(string dir)
    {
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "model.anomalysharp");
        using var scope = NewDisposeScope();
        ModelPackage.Save(path, new JsonObject { ["model"] = "padim" }, new Dictionary<string, Tensor>
        {
            ["mean"] = arange(600, dtype: ScalarType.Float32).reshape(6, 100).div(7f),
            ["half"] = arange(10, dtype: ScalarType.Float32).div(3f).to_type(ScalarType.Float16),
            ["index"] = arange(100, dtype: ScalarType.Int64).mul(1L << 40),
        });
        return path;
    }

    /// <summary>Rewrites the manifest (and its checksum) of a package, as a hostile or damaged file would carry it.</summary>
    static void EditManifest(string path, Action<JsonObject> edit)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Update);
        JsonObject manifest;
        using (var s = zip.GetEntry("manifest.json")!.Open()) manifest = JsonNode.Parse(s)!.AsObject();
        edit(manifest);
        byte[] bytes = Encoding.UTF8.GetBytes(manifest.ToJsonString());
        zip.GetEntry("manifest.json")!.Delete();
        zip.GetEntry("manifest.sha256")!.Delete();
        using (var s = zip.CreateEntry("manifest.json").Open()) s.Write(bytes);
        using (var s = zip.CreateEntry("manifest.sha256").Open())
            s.Write(Encoding.ASCII.GetBytes(Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant()));
    }

    static JsonObject Tensor(JsonObject manifest, string name) =>
        manifest["tensors"]!.AsArray().Select(n => n!.AsObject()).Single(n => (string?)n["name"] == name);

    [Fact]
    public void TensorsOfEveryTypeComeBackBitForBit()
    {
        string path = SavePackage(TestPaths.TempDir("package-roundtrip"));
        var (manifest, tensors) = ModelPackage.Load(path);
        try
        {
            Assert.Equal("padim", (string?)manifest["model"]);
            Assert.Equal(new long[] { 6, 100 }, tensors["mean"].shape);
            Assert.True(tensors["mean"].eq(arange(600, dtype: ScalarType.Float32).reshape(6, 100).div(7f)).all().item<bool>());
            Assert.Equal(ScalarType.Float16, tensors["half"].dtype);
            Assert.True(tensors["half"].eq(arange(10, dtype: ScalarType.Float32).div(3f).to_type(ScalarType.Float16)).all().item<bool>());
            Assert.Equal((1L << 40) * 99, tensors["index"][99].item<long>());
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    [Fact]
    public void AShapeLargerThanItsEntryIsRefusedBeforeAnyAllocation()
    {
        string path = SavePackage(TestPaths.TempDir("package-huge-shape"));
        // 4 TB declared: allocating it would end the process; the entry's own size gives it away first.
        EditManifest(path, m => Tensor(m, "mean")["shape"] = new JsonArray(1_000_000, 1_000_000));
        var e = Assert.Throws<AnomalySharpException>(() => ModelPackage.Load(path));
        Assert.Contains("damaged", e.Message);
        Assert.Contains("mean", e.Message);
    }

    [Fact]
    public void AnOverflowingOrNegativeShapeIsRefused()
    {
        string dir = TestPaths.TempDir("package-bad-shape");
        string path = SavePackage(dir);
        EditManifest(path, m => Tensor(m, "mean")["shape"] = new JsonArray(1L << 40, 1L << 40));
        Assert.Contains("too large", Assert.Throws<AnomalySharpException>(() => ModelPackage.Load(path)).Message);
        path = SavePackage(Path.Combine(dir, "b"));
        EditManifest(path, m => Tensor(m, "mean")["shape"] = new JsonArray(-6, -100));
        Assert.Contains("negative", Assert.Throws<AnomalySharpException>(() => ModelPackage.Load(path)).Message);
    }

    [Fact]
    public void AnEntryThatDisagreesWithItsShapeOrChecksumIsRefused()
    {
        string dir = TestPaths.TempDir("package-entry");
        string path = SavePackage(dir);
        EditManifest(path, m => Tensor(m, "mean")["shape"] = new JsonArray(5, 100));
        Assert.Contains("size mismatch", Assert.Throws<AnomalySharpException>(() => ModelPackage.Load(path)).Message);

        path = SavePackage(Path.Combine(dir, "b"));
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Update))
        {
            var entry = zip.GetEntry("tensors/mean.bin")!;
            byte[] bytes;
            using (var s = entry.Open()) { bytes = new byte[2400]; s.ReadExactly(bytes); }
            bytes[1000] ^= 1;
            entry.Delete();
            using var w = zip.CreateEntry("tensors/mean.bin").Open();
            w.Write(bytes);
        }
        Assert.Contains("checksum mismatch in tensors/mean.bin",
            Assert.Throws<AnomalySharpException>(() => ModelPackage.Load(path)).Message);
    }
}
