namespace AnomalySharp.Visualization;

/// <summary>One image in the HTML report.</summary>
/// <param name="Id">Defect type and file stem.</param>
/// <param name="DefectType">Folder name of the type ("good" for normal).</param>
/// <param name="ImageFile">Path of the rendered PNG relative to the report.</param>
/// <param name="SourcePath">The original image file.</param>
/// <param name="Score">Normalized image score (threshold 0.5).</param>
/// <param name="IsAnomalous">Ground truth.</param>
internal sealed record ReportItem(string Id, string DefectType, string ImageFile, string SourcePath, double Score, bool IsAnomalous)
{
    /// <summary>Predicted label.</summary>
    public bool PredictedAnomalous => Score >= 0.5;
    /// <summary>True when the prediction disagrees with the ground truth.</summary>
    public bool IsMiss => PredictedAnomalous != IsAnomalous;
    /// <summary>How badly wrong: 1 − score for defective images, score for normal ones (higher is worse).</summary>
    public double Badness => IsAnomalous ? 1 - Score : Score;
}
