namespace AnomalySharp.PostProcessing;

/// <summary>How a run's thresholds were actually chosen (results.json's threshold.method, a saved model's provenance).</summary>
public enum ThresholdRule
{
    /// <summary>Raw thresholds given in the configuration (postprocessing.validation: none).</summary>
    Manual,
    /// <summary>F1 on the validation images.</summary>
    F1,
    /// <summary>A false-alarm rate guaranteed on held-out good images.</summary>
    FalseAlarmRate,
}
