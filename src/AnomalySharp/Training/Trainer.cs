using System.Diagnostics;
using AnomalySharp.Configuration;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AnomalySharp.Training;

/// <summary>
/// The training loop shared by every <see cref="ITrainableModel"/>: seeded shuffling per epoch, the optimizer the
/// configuration names, optional gradient clipping, validation every N epochs, early stopping with patience on a
/// monitored value, last and best checkpoints, exact resumption (weights, optimizer state, epoch and batch; the data
/// order and augmentation draws are functions of seed, epoch and batch, so no generator state needs saving), and a
/// checkpoint on cancellation. Every step runs in its own dispose scope, so memory stays flat across epochs.
/// </summary>
internal static class Trainer
{
    /// <summary>The last checkpoint's file name in a run folder.</summary>
    public const string LastFile = "last.ckpt";
    /// <summary>The best checkpoint's file name in a run folder.</summary>
    public const string BestFile = "best.ckpt";

    /// <summary>Trains <paramref name="model"/> on <paramref name="data"/>; leaves the network in evaluation mode with the kept
    /// weights.</summary>
    public static TrainingSummary Run(ITrainableModel model, TrainingOptions options, FitData data, TrainingRun run)
    {
        if (options.Monitor is TrainingMonitor.ImageAuroc or TrainingMonitor.PixelAuroc && run.Validate == null)
            throw new AnomalySharpException($"config key 'training.monitor': {options.Monitor.ConfigName()} needs labelled validation "
                + $"images (use holdout_loss, loss or none)");
        if (options.Monitor == TrainingMonitor.HoldoutSynthetic && run.ValidateSynthetic == null)
            throw new AnomalySharpException("config key 'training.monitor': holdout_synthetic needs the engine's synthetic validation "
                + "(use holdout_loss, loss or none)");
        if (run.Folder != null && run.Describe == null) throw new ArgumentException("a run folder needs a checkpoint description",
            nameof(run));
        var net = model.Network;
        var parameters = net.parameters().Where(p => p.requires_grad).ToList();
        using var optimizer = MakeOptimizer(options, parameters);
        var state = new TrainingState();
        if (run.ResumeFrom != null)
        {
            state = Checkpoint.Read(run.ResumeFrom, net, optimizer).State;
            run.Progress.Message($"resuming from {run.ResumeFrom}: epoch {state.Epoch} done" + (state.Step > 0 ? $", {state.Step} "
                + $"batches into epoch {state.Epoch + 1}" : ""));
        }
        if (run.Folder != null) Directory.CreateDirectory(run.Folder);

        // A finished run (a tiled ensemble resuming past its finished positions) only takes its kept weights: no features to cache.
        bool finished = state.Epoch >= options.MaxEpochs || state.StoppedEarly;
        using var cache = !finished && options.CacheFeatures && !options.Augment.Enabled ? FeatureCache.TryBuild(model, data,
            options.CacheMaxGb, run.Progress) : null;
        var log = run.Folder != null ? new TrainingLog(run.Folder) : null;
        int all = cache?.Count ?? data.Count, batchSize = data.BatchSize;
        // Rows of the cache count only readable images; without it, items are the source's (FitData.Samples).
        var itemSamples = cache?.Samples ?? data.Samples;
        bool indexable = (cache != null || data.Ordered != null)
            && (options.Monitor != TrainingMonitor.HoldoutSynthetic || itemSamples != null);
        var (trainIndices, holdout, heldOutImages) = TrainingHoldout.Split(options, run, all, indexable);
        var heldOutSamples = heldOutImages.Select(i => itemSamples![i * Math.Max(1, run.ItemsPerImage)]).ToList();
        int count = trainIndices.Length;
        var monitor = options.HoldsOut && holdout.Length == 0 ? TrainingMonitor.None : options.Monitor;
        double lastLoss = double.NaN, lastSpeed = 0;
        var sessionClock = Stopwatch.StartNew();
        double startSeconds = state.Seconds;

        if (!finished && model is IInitializedFromData init && init.NeedsInitialization)
            init.Initialize(Frozen(TrainingBatches.Of(model, data, cache, trainIndices, 0, batchSize, Augmentation.None, run.Seed, 0),
                () => { if (run.Cancellation.IsCancellationRequested) Interrupt(run, state, net, optimizer, state.Seconds); }));

        while (state.Epoch < options.MaxEpochs && !state.StoppedEarly)
        {
            int epoch = state.Epoch + 1;
            int[] order = TrainingBatches.Order(run.Seed, epoch, count).Select(i => trainIndices[i]).ToArray();
            net.train();
            var epochClock = Stopwatch.StartNew();
            int imagesThisSession = 0;
            using (var step = run.Progress.Start($"epoch {epoch}/{options.MaxEpochs}", count))
            {
                step.Advance(Math.Min(count, state.Step * batchSize));
                foreach (var (images, frozen, disposeAll) in TrainingBatches.Of(model, data, cache, order, state.Step, batchSize,
                    options.Augment, run.Seed, epoch))
                {
                    // A stop that arrives during the step lets it finish and saves it (Interrupt), within the deadline's wait.
                    using var inHand = IO.PendingOutputs.Protect();
                    try
                    {
                        if (run.Cancellation.IsCancellationRequested) Interrupt(run, state, net, optimizer,
                            startSeconds + sessionClock.Elapsed.TotalSeconds);
                        long n = frozen[0].shape[0];
                        double loss = Step(model, options, optimizer, parameters, images, frozen);
                        if (double.IsNaN(loss) || double.IsInfinity(loss))
                            throw new AnomalySharpException($"training diverged at epoch {epoch}, batch {state.Step + 1} (loss "
                                + $"{loss}); lower training.learning_rate or set training.gradient_clip");
                        state.LossSum += loss * n; state.LossCount += (int)n; state.Step++;
                        imagesThisSession += (int)n;
                        double speed = imagesThisSession / Math.Max(1e-9, epochClock.Elapsed.TotalSeconds);
                        double remaining = ((options.MaxEpochs - epoch) * count + (count - Math.Min(count,
                            state.Step * batchSize))) / Math.Max(1e-9, speed);
                        step.Describe($"epoch {epoch}/{options.MaxEpochs} loss {state.LossSum / state.LossCount:G4} {speed:0.0} "
                            + $"img/s, run ETA {FormatDuration(remaining)}");
                        step.Advance((int)n);
                        if (run.Cancellation.IsCancellationRequested) Interrupt(run, state, net, optimizer,
                            startSeconds + sessionClock.Elapsed.TotalSeconds);
                    }
                    finally { disposeAll(); }
                }
            }

            lastLoss = state.LossCount > 0 ? state.LossSum / state.LossCount : double.NaN;
            if (imagesThisSession > 0) lastSpeed = imagesThisSession / Math.Max(1e-9, epochClock.Elapsed.TotalSeconds);

            IReadOnlyDictionary<string, double>? metrics = null;
            double? monitored = null;
            bool best = false;
            bool validate = options.ValidateEvery > 0 && (epoch % options.ValidateEvery == 0 || epoch == options.MaxEpochs);
            if ((validate && run.Validate != null) || holdout.Length > 0)
            {
                // The epoch's steps are saved before slow checks (minutes for a large network on many images), whose
                // metrics do not stop at once: a stop during them costs the checks, not the epoch; resuming repeats them.
                // The held-out loss on cached features alone takes less than writing the checkpoint (a small network's
                // epoch too): its steps are saved only if a stop comes during it.
                bool slowChecks = (validate && run.Validate != null) || monitor == TrainingMonitor.HoldoutSynthetic || cache == null;
                state.Seconds = startSeconds + sessionClock.Elapsed.TotalSeconds;
                if (run.Folder != null && slowChecks) SaveLast(run, state, net, optimizer);
                StageTimings.End("train"); // results.json's timings: the epochs so far, apart from the checks' graph and scoring
                try
                {
                    metrics = Checks(model, run, data, cache, holdout, heldOutSamples, monitor, batchSize, validate);
                }
                catch (OperationCanceledException) when (run.Cancellation.IsCancellationRequested)
                {
                    if (run.Folder != null && !slowChecks) SaveLast(run, state, net, optimizer);
                    string? last = run.Folder == null ? null : Path.Combine(run.Folder, LastFile);
                    throw new TrainingInterruptedException($"training interrupted while checking epoch {epoch}: "
                        + $"{(last == null ? "no checkpoint folder, nothing saved" : Saved(last))}", last ?? "");
                }
            }
            state.Epoch = epoch; state.Step = 0; state.LossSum = 0; state.LossCount = 0;
            if (holdout.Length > 0 || validate)
            {
                if (monitor != TrainingMonitor.None)
                {
                    monitored = monitor == TrainingMonitor.Loss ? lastLoss : metrics![monitor.ConfigName()];
                    best = Improves(options, state.Best, monitored.Value);
                    if (best) { state.Best = monitored; state.BestEpoch = epoch; state.BadValidations = 0; }
                    else if (++state.BadValidations >= options.Patience && options.Patience > 0) state.StoppedEarly = true;
                }
            }
            NativeHeap.ReleaseIfLarge();
            state.Seconds = startSeconds + sessionClock.Elapsed.TotalSeconds;
            string extra = metrics == null ? "" : " " + string.Join(" ", metrics.Select(kv => $"{kv.Key} {kv.Value:0.000}"));
            string checks = holdout.Length > 0 ? "epochs" : "validations";
            string stop = state.StoppedEarly
                ? $" - stopping early: no improvement of {monitor.ConfigName()} in {options.Patience} {checks}" : "";
            run.Progress.Message($"epoch {epoch}: loss {lastLoss:G5}, {lastSpeed:0.0} img/s{extra}{(best ? " (best)" : "")}{stop}");
            log?.Epoch(epoch, lastLoss, epochClock.Elapsed.TotalSeconds, lastSpeed, MemoryMonitor.PeakResidentMb(),
                MemoryMonitor.CurrentResidentMb(), options.LearningRate, metrics, monitored, best);
            if (run.Folder != null)
                using (IO.PendingOutputs.Protect())
                {
                    SaveLast(run, state, net, optimizer);
                    if (best) Checkpoint.Keep(Path.Combine(run.Folder, LastFile), Path.Combine(run.Folder, BestFile));
                }
        }

        int keptEpoch = state.Epoch;
        if (monitor != TrainingMonitor.None && state.Best != null && state.BestEpoch != state.Epoch && run.Folder != null)
        {
            Checkpoint.Read(Path.Combine(run.Folder, BestFile), net, null);
            keptEpoch = state.BestEpoch;
            run.Progress.Message($"kept the weights of epoch {keptEpoch} ({monitor.ConfigName()} {state.Best:0.0000})");
        }
        net.eval();
        StageTimings.End("train");
        return new TrainingSummary(state.Epoch, state.Seconds, lastLoss, keptEpoch, state.Best, state.StoppedEarly, cache != null,
            lastSpeed, heldOutImages.Length);
    }

    /// <summary>
    /// The checks after an epoch: validation on labelled images (when due), the held-out loss and, for its monitor, the
    /// synthetic defects on the held-out images. They stop at a cancelled token (<see cref="OperationCanceledException"/>).
    /// </summary>
    static Dictionary<string, double>? Checks(ITrainableModel model, TrainingRun run, FitData data, FeatureCache? cache, int[] holdout,
        IReadOnlyList<Data.AnomalySample> heldOutSamples, TrainingMonitor monitor, int batchSize, bool validate)
    {
        var net = model.Network;
        Dictionary<string, double>? metrics = null;
        if (validate && run.Validate != null)
        {
            net.eval();
            metrics = new Dictionary<string, double>(run.Validate());
            StageTimings.End("validate"); // its graph, when built, is timed apart as "graph"
            net.train();
            run.Cancellation.ThrowIfCancellationRequested();
        }
        if (holdout.Length == 0) return metrics;
        metrics ??= new Dictionary<string, double>();
        metrics["holdout_loss"] = TrainingHoldout.Loss(model, data, cache, holdout, batchSize, run.Cancellation);
        if (monitor == TrainingMonitor.HoldoutSynthetic)
        {
            net.eval();
            var synthetic = run.ValidateSynthetic!(heldOutSamples);
            StageTimings.End("validate");
            net.train();
            run.Cancellation.ThrowIfCancellationRequested();
            metrics["synthetic_image_auroc"] = synthetic["image_auroc"];
            metrics["synthetic_pixel_auroc"] = synthetic["pixel_auroc"];
            metrics["holdout_synthetic"] = 1 - (synthetic["image_auroc"] + synthetic["pixel_auroc"]) / 2;
        }
        return metrics;
    }

    static OptimizerHelper MakeOptimizer(TrainingOptions o, IList<Parameter> parameters) => o.Optimizer switch
    {
        TrainingOptimizer.Sgd => optim.SGD(parameters, o.LearningRate, momentum: o.Momentum, weight_decay: o.WeightDecay),
        _ => optim.Adam(parameters, o.LearningRate, beta1: o.Beta1, beta2: o.Beta2, weight_decay: o.WeightDecay),
    };

    /// <summary>One optimization step; returns the batch loss.</summary>
    static double Step(ITrainableModel model, TrainingOptions options, OptimizerHelper optimizer, IList<Parameter> parameters,
        Tensor? images, Tensor[] frozen)
    {
        // Runs while its batch is handed out (NativeCallGuard.HandOut): no garbage collection while TorchSharp's
        // optimizers create and pass implicit Scalars.
        using var scope = NewDisposeScope();
        optimizer.zero_grad();
        var loss = model.Loss(images, frozen);
        loss.backward();
        if (options.GradientClip > 0) nn.utils.clip_grad_norm_(parameters, options.GradientClip);
        optimizer.step();
        return loss.item<float>();
    }

    /// <summary>The frozen features of each batch, freed when the next is asked for; <paramref name="check"/> runs before each.</summary>
    static IEnumerable<Tensor[]> Frozen(IEnumerable<(Tensor? Images, Tensor[] Frozen, Action Dispose)> batches, Action check)
    {
        foreach (var (_, frozen, dispose) in batches)
        {
            try { check(); yield return frozen; }
            finally { dispose(); }
        }
    }

    static void Interrupt(TrainingRun run, TrainingState state, nn.Module net, OptimizerHelper optimizer, double seconds)
    {
        state.Seconds = seconds;
        if (run.Folder == null) throw new TrainingInterruptedException($"training interrupted at epoch {state.Epoch + 1}, batch "
            + $"{state.Step}; no checkpoint folder, nothing saved", "");
        string path = SaveLast(run, state, net, optimizer);
        throw new TrainingInterruptedException($"training interrupted at epoch {state.Epoch + 1}, batch {state.Step}: {Saved(path)}", path);
    }

    /// <summary>Saves the run's last checkpoint as protected work (a stop lets it finish); returns its path.</summary>
    static string SaveLast(TrainingRun run, TrainingState state, nn.Module net, OptimizerHelper optimizer)
    {
        string path = Path.Combine(run.Folder!, LastFile);
        using (IO.PendingOutputs.Protect())
            run.Describe!(state).Save(path, net, optimizer);
        return path;
    }

    /// <summary>What an interruption message says about the checkpoint at <paramref name="path"/>.</summary>
    static string Saved(string path) => $"checkpoint saved to {path} (continue with {OptionText.Name("resume")} {path})";

    static bool Improves(TrainingOptions o, double? best, double value)
    {
        if (best is not { } b) return true;
        if (o.MonitorMaximizes) return value > b + o.MinDelta;
        double delta = Math.Max(o.MinDelta, o.MinDeltaRelative * Math.Abs(b)); // losses: a plateau is relative to their scale
        return value < b - delta;
    }

    /// <summary>A 32-bit seed from three numbers (SplitMix64 finalizer; stable across processes, unlike HashCode).</summary>
    public static int Mix(long a, long b, long c)
    {
        ulong z = (ulong)a * 0x9E3779B97F4A7C15UL ^ (ulong)b * 0xBF58476D1CE4E5B9UL ^ (ulong)c * 0x94D049BB133111EBUL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (int)((z ^ (z >> 31)) & 0x7FFFFFFF);
    }

    static string FormatDuration(double seconds) =>
        double.IsFinite(seconds) ? TimeSpan.FromSeconds(Math.Round(seconds)).ToString(seconds >= 3600 ? @"h\:mm\:ss" : @"m\:ss") : "?";
}
