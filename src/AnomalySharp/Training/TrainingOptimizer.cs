namespace AnomalySharp.Training;

/// <summary>The optimizer of a trained model (training.optimizer).</summary>
public enum TrainingOptimizer
{
    /// <summary>Stochastic gradient descent with momentum and weight decay.</summary>
    Sgd,
    /// <summary>Adam (β1, β2, weight decay).</summary>
    Adam,
}
