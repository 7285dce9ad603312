using AnomalySharp.Backbones;
using AnomalySharp.Configuration;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Training;
using static TorchSharp.torch;

namespace AnomalySharp.Models;

/// <summary>
/// What the trained models share: the frozen pretrained backbone and its layers, the training options, fitting
/// through the <see cref="Trainer"/>, and the network's state dictionary as the saved state.
/// </summary>
public abstract class NetworkModel : IAnomalyModel, ITrainableModel
{
    /// <summary>The frozen pretrained network (teacher or encoder).</summary>
    protected IFeatureExtractor Backbone { get; }
    /// <summary>The backbone layers the model uses, shallow to deep.</summary>
    protected IReadOnlyList<string> Layers { get; }
    /// <summary>The training section of the configuration.</summary>
    public TrainingOptions Options { get; }
    /// <summary>The configuration's seed.</summary>
    protected int Seed { get; }
    /// <summary>The input size (square) the network is built for.</summary>
    protected int ImageSize { get; }

    /// <summary>Reads the shared keys.</summary>
    protected NetworkModel(ConfigTree config)
    {
        (Backbone, Layers) = BackboneFactory.FromConfig(config);
        Options = TrainingOptions.FromConfig(config);
        Seed = config.GetInt("seed");
        ImageSize = config.GetInt("data.image_size", 32, 4096);
    }

    /// <inheritdoc />
    public abstract string Name { get; }
    /// <inheritdoc />
    public abstract nn.Module Network { get; }
    /// <inheritdoc />
    public virtual bool LossNeedsImages => false;

    /// <summary>What the last <see cref="Fit"/> did.</summary>
    public TrainingSummary? LastTraining { get; private set; }

    /// <inheritdoc />
    public virtual Tensor[] FrozenFeatures(Tensor images) => Backbone.Extract(images, Layers);

    /// <summary>The frozen backbone's layers as ONNX nodes on <paramref name="images"/> (for the models' exports).</summary>
    protected string[] AppendBackboneOnnx(Runtime.OnnxGraph g, string images) =>
        Backbone is IOnnxBackbone exportable ? exportable.AppendOnnx(g, images, Layers)
            : throw new AnomalySharpException($"backbone {Backbone.Name} cannot be exported to ONNX");

    /// <inheritdoc />
    public abstract (string Maps, string Scores) AppendOnnx(Runtime.OnnxGraph graph, string images, int imageSize);

    /// <inheritdoc />
    public virtual bool ScoreIsMapMax => false;

    /// <inheritdoc />
    public abstract Tensor Loss(Tensor? images, IReadOnlyList<Tensor> frozen);

    /// <summary>Trains with the configured options, without checkpoints or validation (the engine adds those).</summary>
    public void Fit(FitData data, IProgressReporter progress) =>
        LastTraining = Trainer.Run(this, Options, data, new TrainingRun { Progress = progress, Seed = Seed });

    /// <summary>Records a training run made by the engine.</summary>
    internal void Trained(TrainingSummary summary) => LastTraining = summary;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Tensor> GetState() => Network.state_dict();

    /// <inheritdoc />
    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        try
        {
            var own = Network.state_dict();
            var missing = own.Keys.Where(k => !state.ContainsKey(k)).ToList();
            if (missing.Count > 0) throw new KeyNotFoundException($"{Name} state lacks {string.Join(", ", missing.Take(3))}");
            using var noGrad = no_grad();
            foreach (var (key, target) in own)
            {
                var source = state[key];
                if (!source.shape.SequenceEqual(target.shape))
                    throw new InvalidOperationException($"{key} has shape [{string.Join(",", source.shape)}], expected "
                        + $"[{string.Join(",", target.shape)}]");
                target.copy_(source);
            }
            Network.eval();
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Network.Dispose();
        DisposeMore();
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees what a model holds besides its network.</summary>
    protected virtual void DisposeMore() { }
}
