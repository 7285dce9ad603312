namespace AnomalySharp.Data;

/// <summary>A dataset split into normal training images and labelled test images.</summary>
public interface IAnomalyDataset
{
    /// <summary>A short description (layout and root folder) for reports.</summary>
    string Description { get; }

    /// <summary>The root folder the dataset was read from.</summary>
    string Root { get; }

    /// <summary>Defect-free images to fit on.</summary>
    IReadOnlyList<AnomalySample> Train { get; }

    /// <summary>Normal and defective images to evaluate on.</summary>
    IReadOnlyList<AnomalySample> Test { get; }

    /// <summary>True when every defective test image has a pixel mask.</summary>
    bool HasMasks { get; }
}
