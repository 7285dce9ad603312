using AnomalySharp.Data;

namespace AnomalySharp.Tuning;

/// <summary>
/// Splits an MVTec-layout dataset's test images, per defect type and seeded, into a validation part (where a search
/// compares trials) and a final part (seen only once, by the chosen configuration), and writes each as an MVTec-layout
/// folder of symbolic links — the same training images, nothing copied.
/// </summary>
internal static class DatasetSplit
{
    /// <summary>Writes <paramref name="validationRoot"/> and <paramref name="finalRoot"/>; returns their test counts.</summary>
    public static (int Validation, int Final) Write(MvtecDataset data, double validationFraction, int seed, string validationRoot,
        string finalRoot)
    {
        if (validationFraction is <= 0 or >= 1) throw new AnomalySharpException($"{OptionText.Name("validationFraction")} must be "
            + $"between 0 and 1, got {validationFraction}");
        var rng = new Random(seed);
        var validation = new List<AnomalySample>();
        var final = new List<AnomalySample>();
        foreach (var group in data.Test.GroupBy(s => s.DefectType).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var items = group.ToArray();
            rng.Shuffle(items);
            int n = Math.Max(1, (int)Math.Round(items.Length * validationFraction));
            if (items.Length > 1) n = Math.Min(n, items.Length - 1);
            validation.AddRange(items.Take(n));
            final.AddRange(items.Skip(n));
        }
        Materialize(data, validation, validationRoot);
        Materialize(data, final, finalRoot);
        return (validation.Count, final.Count);
    }

    static void Materialize(MvtecDataset data, List<AnomalySample> test, string root)
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        Directory.CreateDirectory(Path.Combine(root, "train"));
        Directory.CreateSymbolicLink(Path.Combine(root, "train", "good"), Path.Combine(data.Root, "train", "good"));
        foreach (var s in test)
        {
            string dir = Path.Combine(root, "test", s.DefectType);
            Directory.CreateDirectory(dir);
            File.CreateSymbolicLink(Path.Combine(dir, Path.GetFileName(s.ImagePath)), s.ImagePath);
            if (s.MaskPath is null) continue;
            string maskDir = Path.Combine(root, "ground_truth", s.DefectType);
            Directory.CreateDirectory(maskDir);
            File.CreateSymbolicLink(Path.Combine(maskDir, Path.GetFileName(s.MaskPath)), s.MaskPath);
        }
    }
}
