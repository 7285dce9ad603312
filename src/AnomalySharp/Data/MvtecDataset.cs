namespace AnomalySharp.Data;

/// <summary>
/// The MVTec AD layout: ROOT/train/good/*, ROOT/test/&lt;type&gt;/* and, optionally,
/// ROOT/ground_truth/&lt;type&gt;/&lt;stem&gt;_mask.png for every defective test image. Only train/good is required:
/// without test/, or with good test images only, the data has no defects, and thresholds come from held-out good
/// images (postprocessing.threshold false_alarm_rate); defect images, where present, serve the metrics.
/// </summary>
public sealed class MvtecDataset : IAnomalyDataset
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
    public string Description => $"MVTec layout at {Root}";

    /// <summary>Reads the layout; throws <see cref="AnomalySharpException"/> naming the folder or file that is wrong.</summary>
    public MvtecDataset(string root)
    {
        Root = Path.GetFullPath(root);
        if (!Directory.Exists(Root)) throw new AnomalySharpException($"data folder not found: {Root}");
        string trainGood = Path.Combine(Root, "train", "good");
        if (!Directory.Exists(trainGood))
            throw new AnomalySharpException($"{Root}: no train/good folder (expected the MVTec AD layout: train/good, test/<type>, "
                + $"ground_truth/<type>)");
        var train = ImageFiles.List(trainGood);
        if (train.Count == 0) throw new AnomalySharpException($"{trainGood}: no images ({ImageFiles.Names}) in the training folder");
        Train = train.Select(p => new AnomalySample(p, false, "good", null)).ToList();

        string testRoot = Path.Combine(Root, "test");
        string gtRoot = Path.Combine(Root, "ground_truth");
        HasMasks = Directory.Exists(gtRoot);
        var test = new List<AnomalySample>();
        var typeDirs = Directory.Exists(testRoot) ? Directory.GetDirectories(testRoot).OrderBy(d => d,
            StringComparer.Ordinal) : Enumerable.Empty<string>();
        foreach (string typeDir in typeDirs)
        {
            string type = Path.GetFileName(typeDir);
            bool anomalous = type != "good";
            foreach (string image in ImageFiles.List(typeDir))
            {
                string? mask = null;
                if (anomalous && HasMasks)
                {
                    mask = Path.Combine(gtRoot, type, Path.GetFileNameWithoutExtension(image) + "_mask.png");
                    if (!File.Exists(mask))
                        throw new AnomalySharpException($"{image}: defective test image has no mask (expected {mask})");
                }
                test.Add(new AnomalySample(image, anomalous, type, mask));
            }
        }
        Test = test;
    }
}
