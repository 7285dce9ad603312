namespace AnomalySharp.Data;

/// <summary>One image of a dataset: where it is, whether it is defective, which defect type, and its mask if any.</summary>
/// <param name="ImagePath">Path of the image file.</param>
/// <param name="IsAnomalous">True for a defective image.</param>
/// <param name="DefectType">The folder name of its type ("good" for normal images).</param>
/// <param name="MaskPath">Path of the pixel mask (white = defect), or null when the dataset has none.</param>
public sealed record AnomalySample(string ImagePath, bool IsAnomalous, string DefectType, string? MaskPath)
{
    /// <summary>A name unique inside a dataset: defect type and file stem.</summary>
    public string Id => $"{DefectType}/{Path.GetFileNameWithoutExtension(ImagePath)}";
}
