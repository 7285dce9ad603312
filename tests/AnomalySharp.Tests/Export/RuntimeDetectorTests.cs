using AnomalySharp.Data;
using AnomalySharp.Export;
using AnomalySharp.Runtime;
using SkiaSharp;

namespace AnomalySharp.Tests.Export;

/// <summary>The TorchSharp-free runtime on an exported model, against the library's path (batcher, inference graph,
/// normalization).</summary>
public class RuntimeDetectorTests
{
    [Fact]
    public void RuntimeFromFilesMatchesTheLibraryPath()
    {
        using var trained = RealDataModels.Fit("padim");
        string dir = TestPaths.TempDir("runtime");
        string path = Path.Combine(dir, "padim.onnx");
        OnnxExporter.Save(OnnxExporter.Build(trained), path);
        var probe = RealDataModels.Probe(RealDataModels.Data);
        using var batch = new Batcher(RealDataModels.Size, 8).Enumerate(probe, false).Single();
        var (libraryMaps, libraryScores) = RealDataModels.Normalized(trained, batch.Images);

        using var detector = new OnnxAnomalyDetector(path, new DetectorOptions { Sessions = 2 });
        Assert.Equal("padim", detector.ModelName);
        Assert.Equal(RealDataModels.Size, detector.ImageSize);
        var images = probe.Select(s => ImageDecoder.Decode(File.ReadAllBytes(s.ImagePath), s.ImagePath)).ToList();
        var results = detector.Predict(images, masks: true, overlays: true);
        int plane = RealDataModels.Size * RealDataModels.Size;
        for (int i = 0; i < results.Length; i++)
        {
            // Same decoder, same preprocessing graph, same model graph: the same numbers.
            Assert.True(Math.Abs(results[i].Score - libraryScores[i]) <= 1e-6, $"image {i}: {results[i].Score} vs {libraryScores[i]}");
            double mapDiff = results[i].Map.Zip(libraryMaps.AsSpan(i * plane, plane).ToArray(), (a, b) => Math.Abs(a - b)).Max();
            Assert.True(mapDiff <= 1e-6, $"image {i}: map difference {mapDiff}");
            Assert.Equal(libraryScores[i] >= 0.5, results[i].IsAnomalous);
            using var mask = SKBitmap.Decode(results[i].MaskPng);
            Assert.Equal((images[i].Width, images[i].Height), (mask.Width, mask.Height));
            using var overlay = SKBitmap.Decode(results[i].OverlayPng);
            Assert.Equal((RealDataModels.Size, RealDataModels.Size), (overlay.Width, overlay.Height));
        }
        foreach (var im in images) im.Dispose();
    }

    [Fact]
    public void BadInputsAreRefusedWithTheirReason()
    {
        string dir = TestPaths.TempDir("runtime-bad");
        var missing = Assert.Throws<ModelLoadException>(() => new OnnxAnomalyDetector(Path.Combine(dir, "none.onnx")));
        Assert.Contains("not found", missing.Message);
        File.WriteAllText(Path.Combine(dir, "junk.onnx"), "not a model");
        Assert.Throws<ModelLoadException>(() => new OnnxAnomalyDetector(Path.Combine(dir, "junk.onnx")));
        var notImage = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode("hello"u8, "hello.txt"));
        Assert.Equal(ImageProblem.NotAnImage, notImage.Problem);
        // A 20000x20000 PNG header (a decompression bomb) is refused before any pixel memory is allocated.
        var bomb = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(AnomalySharp.Tests.Data.TestImages.HugePng(20000,
            20000), "bomb.png", 10_000_000));
        Assert.Equal(ImageProblem.TooLarge, bomb.Problem);
    }
}
