namespace AnomalySharp.Data;

/// <summary>
/// anomalib's Folder layout: a folder of normal images, an optional folder of abnormal images and an optional folder
/// of masks (same file stem as the abnormal image, optionally with a "_mask" suffix). A seeded fraction of the normal
/// images (default 20%) is held out for testing; the rest is for fitting. Good images alone are a complete dataset.
/// </summary>
public sealed class FolderDataset : IAnomalyDataset
{
    /// <inheritdoc />
    public string Root { get; }
    /// <inheritdoc />
    public IReadOnlyList<AnomalySample> Train { get; }
    /// <inheritdoc />
    public IReadOnlyList<AnomalySample> Test { get; }
    /// <inheritdoc />
    public bool HasMasks { get; }
    /// <inheritdoc />
    public string Description => $"Folder layout at {Root}";

    /// <summary>Reads the three folders; throws <see cref="AnomalySharpException"/> naming what is missing.</summary>
    public FolderDataset(string normalDir, string? abnormalDir, string? maskDir = null, double normalTestFraction = 0.2, int seed = 42)
    {
        Root = Path.GetFullPath(Path.Combine(normalDir, ".."));
        if (!Directory.Exists(normalDir)) throw new AnomalySharpException($"normal folder not found: {Path.GetFullPath(normalDir)}");
        if (abnormalDir != null && !Directory.Exists(abnormalDir)) throw new AnomalySharpException($"abnormal folder not found: "
            + $"{Path.GetFullPath(abnormalDir)}");
        if (abnormalDir == null && maskDir != null) throw new AnomalySharpException("a mask folder needs an abnormal folder "
            + "(--abnormal-dir) whose images the masks mark");
        var normal = ImageFiles.List(normalDir);
        var abnormal = abnormalDir == null ? new List<string>() : ImageFiles.List(abnormalDir).ToList();
        if (normal.Count < 2) throw new AnomalySharpException($"{Path.GetFullPath(normalDir)}: need at least 2 normal images, found "
            + $"{normal.Count}");
        if (abnormalDir != null && abnormal.Count == 0) throw new AnomalySharpException($"{Path.GetFullPath(abnormalDir)}: no "
            + $"abnormal images");
        if (normalTestFraction is <= 0 or >= 1) throw new AnomalySharpException($"normal test fraction must be in (0,1), got "
            + $"{normalTestFraction}");

        var order = Enumerable.Range(0, normal.Count).ToArray();
        new Random(seed).Shuffle(order);
        int nTest = Math.Max(1, (int)Math.Round(normal.Count * normalTestFraction));
        var testIdx = order.Take(nTest).ToHashSet();
        Train = normal.Where((_, i) => !testIdx.Contains(i)).Select(p => new AnomalySample(p, false, "good", null)).ToList();

        HasMasks = maskDir != null;
        if (maskDir != null && !Directory.Exists(maskDir)) throw new AnomalySharpException($"mask folder not found: "
            + $"{Path.GetFullPath(maskDir)}");
        var test = normal.Where((_, i) => testIdx.Contains(i)).Select(p => new AnomalySample(p, false, "good", null)).ToList();
        string abnormalType = abnormalDir == null
            ? "abnormal" : Path.GetFileName(Path.GetFullPath(abnormalDir).TrimEnd(Path.DirectorySeparatorChar));
        var masksByStem = new Dictionary<string, string>(StringComparer.Ordinal);
        if (maskDir != null)
            foreach (string m in ImageFiles.List(maskDir))
            {
                string stem = Path.GetFileNameWithoutExtension(m);
                masksByStem.TryAdd(stem.EndsWith("_mask", StringComparison.Ordinal) ? stem[..^5] : stem, m);
            }
        foreach (string image in abnormal)
        {
            string? mask = null;
            if (maskDir != null && !masksByStem.TryGetValue(Path.GetFileNameWithoutExtension(image), out mask))
                throw new AnomalySharpException($"{image}: abnormal image has no mask in {Path.GetFullPath(maskDir)}");
            test.Add(new AnomalySample(image, true, abnormalType, mask));
        }
        Test = test;
    }
}
