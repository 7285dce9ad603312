using AnomalySharp.Bench;
using AnomalySharp.Tests.Export;

namespace AnomalySharp.Tests.Reliability;

/// <summary>
/// A short deterministic fuzzing run of the three parsers that face untrusted bytes, from real seed files (see
/// <see cref="FuzzTargets"/>; the bench's --fuzz runs longer). A failure names the case to replay.
/// </summary>
public class FuzzTests
{
    static readonly string Progressive = Path.Combine(AppContext.BaseDirectory, "Reliability", "Files", "progressive.jpg");

    /// <summary>Real images of every kind the decoder checks: gray and colour JPEG, progressive JPEG, PNG masks, WebP.</summary>
    internal static List<byte[]> ImageSeeds()
    {
        string tile = TestPaths.SharedData("magnetic_tile"), hazelnut = TestPaths.SharedData("hazelnut_toy");
        var seeds = new List<byte[]>
        {
            File.ReadAllBytes(Directory.GetFiles(Path.Combine(tile, "train", "good"))[0]),
            File.ReadAllBytes(Directory.GetFiles(Path.Combine(tile, "ground_truth", "crack"))[0]),
            File.ReadAllBytes(Directory.GetFiles(Path.Combine(hazelnut, "test", "colour"))[0]),
            File.ReadAllBytes(Progressive),
        };
        using (var image = AnomalySharp.Runtime.ImageDecoder.Decode(seeds[0], "seed"))
        using (var bitmap = new SkiaSharp.SKBitmap(new SkiaSharp.SKImageInfo(image.Width, image.Height, SkiaSharp.SKColorType.Rgba8888,
            SkiaSharp.SKAlphaType.Unpremul)))
        {
            image.Pixels.CopyTo(bitmap.GetPixelSpan());
            using var encoded = SkiaSharp.SKImage.FromBitmap(bitmap).Encode(SkiaSharp.SKEncodedImageFormat.Webp, 80);
            seeds.Add(encoded.ToArray());
        }
        return seeds;
    }

    [Fact]
    public void DecodingMutatedImagesEndsInAnImageOrADecodeError()
    {
        Assert.Equal(3000, FuzzTargets.Run(ImageSeeds(), (bytes, _) => FuzzTargets.Decode(bytes), cases: 3000, seed: 20261130));
    }

    [Fact]
    public void AMutatedModelFileNeverLoadsWithAChangedGraph()
    {
        byte[] model = File.ReadAllBytes(ExportedSynthetic.Onnx);
        Assert.Equal(100, FuzzTargets.Run(new[] { model }, FuzzTargets.LoadModel, cases: 100, seed: 20261130));
    }

    [Fact]
    public void AMutatedModelPackageLoadsOrIsAUserError()
    {
        string dir = TestPaths.TempDir("fuzz-package");
        string seedPath = Path.Combine(dir, "seed.anomalysharp"), scratch = Path.Combine(dir, "case.anomalysharp");
        using (var scope = TorchSharp.torch.NewDisposeScope())
            AnomalySharp.Packaging.ModelPackage.Save(seedPath, new System.Text.Json.Nodes.JsonObject
            {
                ["model"] = "padim",
                ["image_size"] = 64
            },
                new Dictionary<string, TorchSharp.torch.Tensor>
                {
                    ["mean"] = TorchSharp.torch.arange(600, dtype: TorchSharp.torch.ScalarType.Float32).reshape(6, 100),
                    ["index"] = TorchSharp.torch.arange(100, dtype: TorchSharp.torch.ScalarType.Int64),
                });
        Assert.Equal(400, FuzzTargets.Run(new[] { File.ReadAllBytes(seedPath) }, (bytes, _) => FuzzTargets.LoadPackage(bytes, scratch),
            cases: 400, seed: 20261130));
    }

    [Fact]
    public void MutatedMultipartRequestsGetAnUploadOrA4xx()
    {
        var image = ImageSeeds()[0];
        var (body, contentType) = FuzzTargets.MultipartRequest(image, "tile.jpg");
        var (longName, _) = FuzzTargets.MultipartRequest(image[..200], new string('n', 300) + ".jpg");
        Assert.Equal(3000, FuzzTargets.Run(new[] { body, longName }, (bytes, _) => FuzzTargets.Multipart(bytes, contentType),
            cases: 3000, seed: 20261130));
    }
}
