using AnomalySharp.Configuration;

namespace AnomalySharp.Training;

/// <summary>The training section of a trained model's configuration (see <see cref="DefaultsYaml"/>).</summary>
public sealed record TrainingOptions
{
    /// <summary>Epochs at most.</summary>
    public int MaxEpochs { get; init; }
    /// <summary>Epochs of fine-tuning when `update` folds new images in (training.update_epochs).</summary>
    public int UpdateEpochs { get; init; } = 1;
    /// <summary>The optimizer.</summary>
    public TrainingOptimizer Optimizer { get; init; } = TrainingOptimizer.Adam;
    /// <summary>Learning rate.</summary>
    public double LearningRate { get; init; }
    /// <summary>SGD momentum.</summary>
    public double Momentum { get; init; }
    /// <summary>L2 weight decay.</summary>
    public double WeightDecay { get; init; }
    /// <summary>Adam's β1.</summary>
    public double Beta1 { get; init; } = 0.9;
    /// <summary>Adam's β2.</summary>
    public double Beta2 { get; init; } = 0.999;
    /// <summary>Maximum global L2 norm of the gradients; 0 leaves them unclipped.</summary>
    public double GradientClip { get; init; }
    /// <summary>Validation every this many epochs (0: never).</summary>
    public int ValidateEvery { get; init; }
    /// <summary>
    /// What early stopping and the best checkpoint watch: holdout_loss (the loss on held-out normal training images,
    /// every epoch; the default), holdout_synthetic (every epoch, how well the model finds defects pasted into the
    /// held-out normal images: 1 − the mean of their image and pixel AUROC, no label needed; FastFlow's default, whose
    /// likelihood loss has no plateau), loss (the training loss), image_auroc or pixel_auroc (labelled validation
    /// images), or none.
    /// </summary>
    public TrainingMonitor Monitor { get; init; } = TrainingMonitor.HoldoutLoss;
    /// <summary>The share of the normal training images held out of training for the holdout monitors (seeded).</summary>
    public double HoldoutFraction { get; init; } = 0.1;
    /// <summary>Checks (epochs for holdout_loss, validations otherwise) without improvement before stopping (0: never stop
    /// early).</summary>
    public int Patience { get; init; }
    /// <summary>The smallest change that counts as an improvement.</summary>
    public double MinDelta { get; init; }
    /// <summary>For the loss monitors: the smallest change, relative to the best value, that counts as an improvement.</summary>
    public double MinDeltaRelative { get; init; }
    /// <summary>Keep the frozen network's features of the training images in memory across epochs.</summary>
    public bool CacheFeatures { get; init; } = true;
    /// <summary>The most memory the feature cache may take, in GiB.</summary>
    public double CacheMaxGb { get; init; } = 8;
    /// <summary>Augmentation of training images (off by default).</summary>
    internal Augmentation Augment { get; init; } = Augmentation.None;

    /// <summary>
    /// The training section, filled in by each model (placeholders: {0} epochs, {1} optimizer, {2} learning rate,
    /// {3} momentum, {4} weight decay, {5} β1, {6} β2, {7} monitor, {10} validation interval, {11} patience). Inserted at column 0.
    /// </summary>
    public static string DefaultsYaml(int epochs, TrainingOptimizer optimizer, double lr, double momentum, double weightDecay,
        double beta1 = 0.9, double beta2 = 0.999, TrainingMonitor monitor = TrainingMonitor.HoldoutLoss, int validateEvery = 5,
        int patience = 5) =>
        string.Format(System.Globalization.CultureInfo.InvariantCulture, """
        training:
          max_epochs: {0}
          update_epochs: {9}
          optimizer: {1}
          learning_rate: {2}
          momentum: {3}
          weight_decay: {4}
          beta1: {5}
          beta2: {6}
          gradient_clip: 0
          validate_every: {10}
        {8}
          monitor: {7}
          holdout_fraction: 0.1
          patience: {11}
          min_delta: 0.0
          min_delta_relative: 0.01
          cache_features: true
          cache_max_gb: 8
          checkpoint_dir: null
          augment:
            hflip: false
            vflip: false
            rotation_degrees: 0
            color_jitter: 0.0
        """, epochs, optimizer.ConfigName(), Plain(lr), Plain(momentum), Plain(weightDecay), Plain(beta1), Plain(beta2),
        monitor.ConfigName(), MonitorComment(monitor), Math.Max(1, epochs / 10), validateEvery, patience);

    static string MonitorComment(TrainingMonitor monitor) => monitor == TrainingMonitor.HoldoutSynthetic
        ? """
          # Stop when the model's error on defects pasted into held-out normal training images (1 - mean of their
          # image and pixel AUROC; no label used) has not improved by min_delta_relative for `patience` epochs, and
          # keep the best epoch's weights; max_epochs (the paper's budget) is the ceiling.
          """
        : """
          # Stop when the loss on held-out normal training images has not improved by min_delta_relative for
          # `patience` epochs, and keep the best epoch's weights; max_epochs (the paper's budget) is the ceiling.
          """;

    static string Plain(double v) => v.ToString("0.##########", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Reads and checks the training section.</summary>
    public static TrainingOptions FromConfig(ConfigTree config)
    {
        var options = new TrainingOptions
        {
            MaxEpochs = config.GetInt("training.max_epochs", 1, 100_000),
            // Model files saved before `update` existed have no key: a tenth of the budget, as the defaults say.
            UpdateEpochs = config.Has("training.update_epochs") ? config.GetInt("training.update_epochs", 1, 100_000)
                : Math.Max(1, config.GetInt("training.max_epochs", 1, 100_000) / 10),
            Optimizer = config.GetEnum<TrainingOptimizer>("training.optimizer"),
            LearningRate = config.GetDouble("training.learning_rate", 1e-12, 100),
            Momentum = config.GetDouble("training.momentum", 0, 0.999999),
            WeightDecay = config.GetDouble("training.weight_decay", 0, 1),
            Beta1 = config.GetDouble("training.beta1", 0, 0.999999),
            Beta2 = config.GetDouble("training.beta2", 0, 0.999999),
            GradientClip = config.GetDouble("training.gradient_clip", 0, 1e9),
            ValidateEvery = config.GetInt("training.validate_every", 0, 100_000),
            Monitor = config.GetEnum<TrainingMonitor>("training.monitor"),
            HoldoutFraction = config.GetDouble("training.holdout_fraction", 0, 0.5),
            Patience = config.GetInt("training.patience", 0, 100_000),
            MinDelta = config.GetDouble("training.min_delta", 0, 1e9),
            MinDeltaRelative = config.GetDouble("training.min_delta_relative", 0, 1),
            CacheFeatures = config.GetBool("training.cache_features"),
            CacheMaxGb = config.GetDouble("training.cache_max_gb", 0, 1e6),
            Augment = new Augmentation(
                config.GetBool("training.augment.hflip"),
                config.GetBool("training.augment.vflip"),
                config.GetDouble("training.augment.rotation_degrees", 0, 180),
                config.GetDouble("training.augment.color_jitter", 0, 1)),
        };
        if (options.Monitor != TrainingMonitor.None && !options.HoldsOut && options.ValidateEvery == 0)
            throw new AnomalySharpException($"config key 'training.monitor': {options.Monitor.ConfigName()} needs "
                + $"training.validate_every of at least 1");
        if (options.HoldsOut && options.HoldoutFraction <= 0)
            throw new AnomalySharpException($"config key 'training.monitor': {options.Monitor.ConfigName()} needs "
                + $"training.holdout_fraction above 0 (or choose another monitor)");
        return options;
    }

    /// <summary>True when images are held out of training for <see cref="Monitor"/> holdout_loss or holdout_synthetic.</summary>
    public bool HoldsOut => Monitor is TrainingMonitor.HoldoutLoss or TrainingMonitor.HoldoutSynthetic;

    /// <summary>True when a larger monitored value is better.</summary>
    public bool MonitorMaximizes => Monitor is TrainingMonitor.ImageAuroc or TrainingMonitor.PixelAuroc or TrainingMonitor.None;
}
