using System.Diagnostics;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Models;
using AnomalySharp.Training;

/// <summary>
/// Training speed of STFPM, FastFlow and Reverse Distillation: seconds per epoch with the frozen features cached
/// (our default) and recomputed every epoch (what anomalib does), side by side in one run, plus the fit's peak memory.
/// </summary>
static class TrainingBench
{
    public static void Run(MvtecDataset ds, int threads, int epochs, int images)
    {
        var train = ds.Train.Take(images).ToList();
        var batcher = new Batcher(256, 16);
        Console.WriteLine($"| model | epochs | cached: first epoch incl. caching / later epochs | recomputed: per epoch | later "
            + $"epochs, recomputed / cached |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (string name in new[] { "stfpm", "fastflow", "reverse_distillation" })
        {
            var times = new Dictionary<bool, List<double>>();
            foreach (bool cache in new[] { true, false })
            {
                var config = ModelRegistry.Defaults(name);
                config.Set($"runtime.threads={threads}");
                config.Set($"training.max_epochs={epochs}");
                config.Set($"training.cache_features={(cache ? "true" : "false")}");
                using var model = (NetworkModel)ModelRegistry.Create(config);
                var data = new FitData(train.Count, () => batcher.Enumerate(train, false))
                {
                    BatchSize = 16,
                    Ordered = order => batcher.Enumerate(order.Select(i => train[i]).ToList(), false),
                };
                var progress = new EpochClock();
                Trainer.Run(model, model.Options, data, new TrainingRun { Progress = progress, Seed = 42 });
                times[cache] = progress.Seconds;
            }
            double cachedLater = times[true].Skip(1).Average(), recomputed = times[false].Average();
            Console.WriteLine($"| {name} | {epochs} × {train.Count} images | {times[true][0]:0.0} s / {cachedLater:0.0} s | "
                + $"{recomputed:0.0} s | {recomputed / cachedLater:0.00}× |");
        }
        Console.WriteLine($"| peak resident memory of the process | {MemoryMonitor.PeakResidentMb():0} MiB | | | |");
    }

    /// <summary>Wall time from the start of one "epoch" step (or the feature cache) to the next epoch's end.</summary>
    sealed class EpochClock : IProgressReporter
    {
        readonly Stopwatch _clock = Stopwatch.StartNew();
        double _cacheStart = -1;
        public List<double> Seconds { get; } = new();

        public IProgressStep Start(string description, int total)
        {
            if (description.StartsWith("cache", StringComparison.Ordinal)) _cacheStart = _clock.Elapsed.TotalSeconds;
            else if (description.StartsWith("epoch", StringComparison.Ordinal))
                return new Step(this, _cacheStart >= 0 && Seconds.Count == 0 ? _cacheStart : _clock.Elapsed.TotalSeconds);
            return NullProgress.Instance;
        }

        public void Message(string text) { }

        sealed class Step(EpochClock owner, double start) : IProgressStep
        {
            public void Advance(int units) { }
            public void Dispose() => owner.Seconds.Add(owner._clock.Elapsed.TotalSeconds - start);
        }
    }
}
