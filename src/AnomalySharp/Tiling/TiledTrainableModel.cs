using AnomalySharp.Models;
using AnomalySharp.Training;
using static TorchSharp.torch;

namespace AnomalySharp.Tiling;

/// <summary>
/// A tiled model that trains a network (STFPM, FastFlow, Reverse Distillation): the trainer sees the tiles as its
/// images (<see cref="TiledFitData"/>), so features, losses, caching and checkpoints are those of the inner model.
/// </summary>
internal sealed class TiledTrainableModel : TiledModel, ITrainableModel
{
    readonly ITrainableModel _inner;

    internal TiledTrainableModel(IAnomalyModel inner, TileGrid grid) : base(inner, grid) =>
        _inner = inner as ITrainableModel ?? throw new ArgumentException($"{inner.Name} does not train a network", nameof(inner));

    /// <inheritdoc />
    public nn.Module Network => _inner.Network;

    /// <inheritdoc />
    public bool LossNeedsImages => _inner.LossNeedsImages;

    /// <inheritdoc />
    public Tensor[] FrozenFeatures(Tensor images) => _inner.FrozenFeatures(images);

    /// <inheritdoc />
    public Tensor Loss(Tensor? images, IReadOnlyList<Tensor> frozen) => _inner.Loss(images, frozen);
}
