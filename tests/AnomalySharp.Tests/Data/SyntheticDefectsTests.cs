using AnomalySharp.Data;

namespace AnomalySharp.Tests.Data;

/// <summary>The label-free validation images of training.monitor holdout_synthetic, made from real normal images.</summary>
public class SyntheticDefectsTests
{
    static IReadOnlyList<AnomalySample> Normals() =>
        new MvtecDataset(TestPaths.SharedData("magnetic_tile")).Train.Take(SyntheticDefects.Types.Length).ToList();

    [Fact]
    public void EachTwinDiffersFromItsImageOnlyAroundItsMaskAndTheTypesCycle()
    {
        var normals = Normals();
        int perImage = SyntheticDefects.TwinsPerImage(normals.Count);
        Assert.Equal(SyntheticDefects.Types.Length, perImage); // 4 images: every type on each, 16 twins
        Assert.Equal(1, SyntheticDefects.TwinsPerImage(76));
        Assert.Equal(2, SyntheticDefects.TwinsPerImage(16));
        var set = SyntheticDefects.Create(normals, TestPaths.TempDir("synthetic"), seed: 7);
        Assert.Equal(normals.Count * (1 + perImage), set.Count);
        for (int n = 0; n < normals.Count * perImage; n++)
        {
            int i = n / perImage, j = n % perImage;
            var good = set[i];
            var twin = set[normals.Count + n];
            Assert.Equal(normals[i].ImagePath, good.ImagePath);
            Assert.False(good.IsAnomalous);
            Assert.Null(good.MaskPath);
            Assert.True(twin.IsAnomalous);
            Assert.Equal(SyntheticDefects.Types[(i + j) % perImage], twin.DefectType);

            using var original = ImageIO.Decode(good.ImagePath);
            using var painted = ImageIO.Decode(twin.ImagePath);
            using var mask = ImageIO.Decode(twin.MaskPath!);
            Assert.Equal((original.Width, original.Height), (painted.Width, painted.Height));
            Assert.Equal((original.Width, original.Height), (mask.Width, mask.Height));
            int w = original.Width, h = original.Height;
            bool Masked(int x, int y) => mask.Pixels[(y * w + x) * 4] > 127;
            // Antialiased edges may reach 2 pixels past the mask; nothing farther may change, and most of the mask must.
            bool Near(int x, int y)
            {
                for (int dy = -2; dy <= 2; dy++)
                    for (int dx = -2; dx <= 2; dx++)
                        if (x + dx >= 0 && x + dx < w && y + dy >= 0 && y + dy < h && Masked(x + dx, y + dy)) return true;
                return false;
            }
            int maskPixels = 0, changedInMask = 0, changedFar = 0;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    int at = (y * w + x) * 4;
                    bool changed = Math.Abs(original.Pixels[at] - painted.Pixels[at]) + Math.Abs(original.Pixels[at
                        + 1] - painted.Pixels[at + 1])
                        + Math.Abs(original.Pixels[at + 2] - painted.Pixels[at + 2]) > 0;
                    if (Masked(x, y)) { maskPixels++; if (changed) changedInMask++; }
                    else if (changed && !Near(x, y)) changedFar++;
                }
            Assert.True(maskPixels > 0.0005 * w * h, $"{twin.DefectType}: mask of {maskPixels} pixels in {w}×{h}");
            Assert.True(maskPixels < 0.1 * w * h, $"{twin.DefectType}: mask of {maskPixels} pixels in {w}×{h}");
            Assert.Equal(0, changedFar);
            Assert.True(changedInMask > 0.5 * maskPixels, $"{twin.DefectType}: {changedInMask} of {maskPixels} masked pixels changed");
        }
    }

    [Fact]
    public void TheSameImagesAndSeedGiveTheSameBytesAndAFinishedFolderIsReused()
    {
        var normals = Normals();
        string a = TestPaths.TempDir("synthetic-a"), b = TestPaths.TempDir("synthetic-b");
        var first = SyntheticDefects.Create(normals, a, seed: 3);
        var second = SyntheticDefects.Create(normals, b, seed: 3);
        foreach (var (x, y) in first.Zip(second).Where(p => p.First.IsAnomalous))
        {
            Assert.Equal(File.ReadAllBytes(x.ImagePath), File.ReadAllBytes(y.ImagePath));
            Assert.Equal(File.ReadAllBytes(x.MaskPath!), File.ReadAllBytes(y.MaskPath!));
        }
        var other = SyntheticDefects.Create(normals, TestPaths.TempDir("synthetic-c"), seed: 4);
        Assert.NotEqual(File.ReadAllBytes(first[^1].ImagePath), File.ReadAllBytes(other[^1].ImagePath));

        // A resumed run finds its twins written: nothing is rewritten.
        var written = first.Where(s => s.IsAnomalous).Select(s => File.GetLastWriteTimeUtc(s.ImagePath)).ToList();
        Thread.Sleep(20);
        var again = SyntheticDefects.Create(normals, a, seed: 3);
        Assert.Equal(first.Select(s => s.ImagePath), again.Select(s => s.ImagePath));
        Assert.Equal(written, again.Where(s => s.IsAnomalous).Select(s => File.GetLastWriteTimeUtc(s.ImagePath)).ToList());
        // A folder left incomplete (no stamp) is written again.
        File.Delete(Path.Combine(a, "GENERATED"));
        File.WriteAllBytes(first[^1].ImagePath, new byte[] { 1, 2, 3 });
        SyntheticDefects.Create(normals, a, seed: 3);
        Assert.Equal(File.ReadAllBytes(second[^1].ImagePath), File.ReadAllBytes(first[^1].ImagePath));
    }

    [Fact]
    public void AnUnreadableHeldOutImageFailsWithItsNameOrIsLeftOutWhenSkipping()
    {
        string dir = TestPaths.TempDir("synthetic-bad");
        var normals = Normals().ToList();
        string bad = Path.Combine(dir, "cut.png");
        File.WriteAllBytes(bad, File.ReadAllBytes(normals[1].ImagePath).AsSpan(0, 80).ToArray());
        normals.Insert(1, normals[0] with { ImagePath = bad });
        var e = Assert.Throws<AnomalySharpException>(() => SyntheticDefects.Create(normals, Path.Combine(dir, "a"), seed: 3));
        Assert.Contains(bad, e.Message);

        var skipped = new List<string>();
        var set = SyntheticDefects.Create(normals, Path.Combine(dir, "b"), seed: 3, skipped.Add);
        Assert.Contains(bad, Assert.Single(skipped));
        var good = normals.Where(n => n.ImagePath != bad).ToList();
        Assert.Equal(good.Select(n => n.ImagePath), set.Where(s => !s.IsAnomalous).Select(s => s.ImagePath));
        // The same twins as a set made without the unreadable image at all.
        var without = SyntheticDefects.Create(good, Path.Combine(dir, "c"), seed: 3);
        foreach (var (x, y) in set.Zip(without).Where(p => p.First.IsAnomalous))
            Assert.Equal(File.ReadAllBytes(x.ImagePath), File.ReadAllBytes(y.ImagePath));
        Assert.Throws<AnomalySharpException>(() => SyntheticDefects.Create(new[] { normals[1] }, Path.Combine(dir, "d"), seed: 3,
            _ => { }));
    }
}
