namespace AnomalySharp.Models.ReverseDistillation;

/// <summary>model.loss: what Reverse Distillation's student is trained to match.</summary>
internal enum ReverseDistillationLoss
{
    /// <summary>The cosine distance of each layer's flattened features.</summary>
    Flat,
    /// <summary>The per-pixel cosine distance.</summary>
    Pixel,
    /// <summary>Both terms added.</summary>
    Both,
}
