namespace AnomalySharp.PostProcessing;

/// <summary>postprocessing.threshold: how a run chooses its thresholds.</summary>
public enum ThresholdMethod
{
    /// <summary>false_alarm_rate when the data has no defect images, f1 otherwise.</summary>
    Auto,
    /// <summary>The threshold that maximizes F1 on the validation images (defects needed).</summary>
    F1,
    /// <summary>The split-conformal order statistic of held-out good images' scores, for a stated false-alarm rate.</summary>
    FalseAlarmRate,
}
