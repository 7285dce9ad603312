using AnomalySharp.Data;
using static TorchSharp.torch;

namespace AnomalySharp.Engine;

/// <summary>Raw predictions for a set of test images, with what is needed to score and draw them.</summary>
public sealed class EvaluationSet : IDisposable
{
    /// <summary>The samples, in tensor order.</summary>
    public IReadOnlyList<AnomalySample> Samples { get; }
    /// <summary>Resized input images, uint8 [N,3,S,S].</summary>
    public Tensor Images { get; }
    /// <summary>Raw anomaly maps, float [N,1,S,S].</summary>
    public Tensor Maps { get; }
    /// <summary>Raw image scores, float [N].</summary>
    public Tensor Scores { get; }
    /// <summary>Image labels, float 0/1 [N].</summary>
    public Tensor Labels { get; }
    /// <summary>Masks, uint8 0/1 [N,1,S,S], or null when the data has none.</summary>
    public Tensor? Masks { get; }

    /// <summary>Bundles the tensors; the set owns them.</summary>
    public EvaluationSet(IReadOnlyList<AnomalySample> samples, Tensor images, Tensor maps, Tensor scores, Tensor labels, Tensor? masks)
    {
        Samples = samples; Images = images; Maps = maps; Scores = scores; Labels = labels; Masks = masks;
    }

    /// <summary>The rows at <paramref name="indices"/> (copies).</summary>
    public EvaluationSet Subset(IReadOnlyList<int> indices)
    {
        using var idx = tensor(indices.Select(i => (long)i).ToArray());
        return new EvaluationSet(indices.Select(i => Samples[i]).ToList(), Images.index_select(0, idx), Maps.index_select(0, idx),
            Scores.index_select(0, idx), Labels.index_select(0, idx), Masks?.index_select(0, idx));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Images.Dispose(); Maps.Dispose(); Scores.Dispose(); Labels.Dispose(); Masks?.Dispose();
    }
}
