using AnomalySharp.Data;
using SkiaSharp;

namespace AnomalySharp.Tests.Data;

public class DatasetTests
{
    [Fact]
    public void MvtecLayoutIsReadWithMasks()
    {
        var ds = new MvtecDataset(TestImages.MiniMvtec(TestPaths.TempDir("mvtec")));
        Assert.Equal(6, ds.Train.Count);
        Assert.Equal(4, ds.Test.Count);
        Assert.True(ds.HasMasks);
        Assert.All(ds.Test.Where(s => s.IsAnomalous), s => Assert.True(File.Exists(s.MaskPath)));
    }

    [Fact]
    public void RealMagneticTileIsReadWithItsQuirks()
    {
        var ds = new MvtecDataset(TestPaths.SharedData("magnetic_tile"));
        Assert.Equal(762, ds.Train.Count);
        Assert.Equal(582, ds.Test.Count);
        Assert.Equal(new[] { "blowhole", "break", "crack", "fray", "good", "uneven" },
            ds.Test.Select(s => s.DefectType).Distinct().Order());
    }

    [Fact]
    public void MissingMaskIsAnErrorNamingTheImage()
    {
        string root = TestImages.MiniMvtec(TestPaths.TempDir("nomask"));
        File.Delete(Path.Combine(root, "ground_truth/dent/001_mask.png"));
        var e = Assert.Throws<AnomalySharpException>(() => new MvtecDataset(root));
        Assert.Contains("001.png", e.Message);
        Assert.Contains("no mask", e.Message);
    }

    [Fact]
    public void WithoutGroundTruthFolderTheDataSimplyHasNoMasks()
    {
        string root = TestImages.MiniMvtec(TestPaths.TempDir("nogt"));
        Directory.Delete(Path.Combine(root, "ground_truth"), true);
        var ds = new MvtecDataset(root);
        Assert.False(ds.HasMasks);
    }

    [Fact]
    public void AnEmptyTrainingFolderIsAnError()
    {
        string root = TestImages.MiniMvtec(TestPaths.TempDir("empty"));
        foreach (var f in Directory.GetFiles(Path.Combine(root, "train/good"), "*", SearchOption.AllDirectories)) File.Delete(f);
        var e = Assert.Throws<AnomalySharpException>(() => new MvtecDataset(root));
        Assert.Contains(root, e.Message);
        Assert.Throws<AnomalySharpException>(() => new MvtecDataset(Path.Combine(root, "does-not-exist")));
    }

    [Fact]
    public void GoodImagesAloneAreACompleteDataset()
    {
        // An MVTec root with train/good only, one whose test/ holds good images only, and the Folder layout without defects.
        string root = TestImages.MiniMvtec(TestPaths.TempDir("good-only"));
        var full = new MvtecDataset(root);
        Directory.Delete(Path.Combine(root, "ground_truth"), recursive: true);
        foreach (string d in Directory.GetDirectories(Path.Combine(root,
            "test")).Where(d => Path.GetFileName(d) != "good")) Directory.Delete(d, recursive: true);
        var goodTest = new MvtecDataset(root);
        Assert.Equal(full.Train.Count, goodTest.Train.Count);
        Assert.NotEmpty(goodTest.Test);
        Assert.All(goodTest.Test, s => Assert.False(s.IsAnomalous));
        Directory.Delete(Path.Combine(root, "test"), recursive: true);
        var trainOnly = new MvtecDataset(root);
        Assert.Equal(full.Train.Count, trainOnly.Train.Count);
        Assert.Empty(trainOnly.Test);
        var folder = new FolderDataset(Path.Combine(root, "train/good"), abnormalDir: null, seed: 1);
        Assert.All(folder.Test, s => Assert.False(s.IsAnomalous));
        Assert.Equal(full.Train.Count, folder.Train.Count + folder.Test.Count);
        Assert.Throws<AnomalySharpException>(() => new FolderDataset(Path.Combine(root, "train/good"), null, Path.Combine(root,
            "train/good")));
    }

    [Fact]
    public void MaskOfAnotherSizeIsAnErrorNamingTheMask()
    {
        string root = TestImages.MiniMvtec(TestPaths.TempDir("masksize"));
        string mask = Path.Combine(root, "ground_truth/dent/000_mask.png");
        TestImages.Png(mask, 32, 32, (x, y) => SKColors.White);
        var ds = new MvtecDataset(root);
        var e = Assert.Throws<AnomalySharpException>(() => new Batcher(64, 4).Enumerate(ds.Test, true).ToList().ForEach(b => b.Dispose()));
        Assert.Contains("000_mask.png", e.Message);
        Assert.Contains("32x32", e.Message);
    }

    [Fact]
    public void BadImagesStopTheRunUnlessSkipped()
    {
        string root = TestImages.MiniMvtec(TestPaths.TempDir("badimg"));
        string bad = Path.Combine(root, "train/good/003.png");
        File.WriteAllBytes(bad, File.ReadAllBytes(bad).AsSpan(0, 60).ToArray());
        var ds = new MvtecDataset(root);
        var e = Assert.Throws<AnomalySharpException>(() => new Batcher(64, 4).Enumerate(ds.Train,
            false).ToList().ForEach(b => b.Dispose()));
        Assert.Contains("003.png", e.Message);
        Assert.Contains("use skipBadImages to go on", e.Message);
        Assert.Contains("use --skip-bad-images to go on", e.CommandLineMessage);
        var skipping = new Batcher(64, 4, skipBadImages: true);
        int n = 0;
        foreach (var b in skipping.Enumerate(ds.Train, false)) { n += b.Samples.Count; b.Dispose(); }
        Assert.Equal(5, n);
        Assert.Single(skipping.Skipped);
    }

    [Fact]
    public void FolderLayoutHoldsOutNormalImagesForTesting()
    {
        string root = TestImages.MiniMvtec(TestPaths.TempDir("folder"));
        var ds = new FolderDataset(Path.Combine(root, "train/good"), Path.Combine(root, "test/dent"), Path.Combine(root,
            "ground_truth/dent"), 0.34, seed: 1);
        Assert.Equal(4, ds.Train.Count);
        Assert.Equal(2, ds.Test.Count(s => !s.IsAnomalous));
        Assert.Equal(2, ds.Test.Count(s => s.IsAnomalous && s.MaskPath != null));
        Assert.Empty(ds.Train.Select(s => s.ImagePath).Intersect(ds.Test.Select(s => s.ImagePath)));
    }

    [Fact]
    public void SyntheticDatasetIsDeterministicAndHasMasksForEveryDefect()
    {
        var options = new SyntheticDataset.Options(Seed: 7, ImageSize: 64, TrainCount: 4, TestGoodCount: 2, TestDefectCountPerType: 2);
        var a = SyntheticDataset.Create(Path.Combine(TestPaths.TempDir("syn"), "a"), options);
        var b = SyntheticDataset.Create(Path.Combine(TestPaths.TempDir("syn"), "b"), options);
        var filesA = Directory.GetFiles(a.Root, "*.png", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(a.Root,
            f)).Order().ToList();
        var filesB = Directory.GetFiles(b.Root, "*.png", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(b.Root,
            f)).Order().ToList();
        Assert.Equal(filesA, filesB);
        Assert.All(filesA, f => Assert.Equal(File.ReadAllBytes(Path.Combine(a.Root, f)), File.ReadAllBytes(Path.Combine(b.Root, f))));
        Assert.Equal(6, a.Test.Count(s => s.IsAnomalous));
        // Every defect mask marks something; another seed gives other images.
        foreach (var s in a.Test.Where(s => s.IsAnomalous))
            Assert.Contains(ImageIO.Decode(s.MaskPath!).Rgba, v => v == 255 && true);
        var c = SyntheticDataset.Create(Path.Combine(TestPaths.TempDir("syn"), "c"), options with { Seed = 8 });
        Assert.NotEqual(File.ReadAllBytes(a.Train[0].ImagePath), File.ReadAllBytes(c.Train[0].ImagePath));
    }
}
