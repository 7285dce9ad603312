using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Packaging;
using AnomalySharp.PostProcessing;

namespace AnomalySharp.Engine;

/// <summary>
/// What `update` will do, settled and checked before anything is fitted: the new good images (those the model already
/// knows skipped), their split into images to fit and held-out calibration images (as `train` splits, with the seed),
/// and the old images the update still needs — the old calibration images, which the updated model scores again, and
/// for a trained network the images it was fitted on. Every refusal is one line naming the file or setting.
/// </summary>
internal sealed class UpdatePlan
{
    /// <summary>The new images to fit on.</summary>
    public required IReadOnlyList<AnomalySample> NewFit { get; init; }
    /// <summary>The new images held out for calibration.</summary>
    public required IReadOnlyList<AnomalySample> NewCalibration { get; init; }
    /// <summary>The calibration images, old and new.</summary>
    public required IReadOnlyList<AnomalySample> Calibration { get; init; }
    /// <summary>What the model is fitted on this time: the old and new images for a fine-tune, else the new ones.</summary>
    public required IReadOnlyList<AnomalySample> Train { get; init; }
    /// <summary>The model's test images, when all are still here.</summary>
    public required IReadOnlyList<AnomalySample> Test { get; init; }
    /// <summary>Images of the folder the model already knew (fitted or calibrated on), skipped.</summary>
    public int Known { get; init; }
    /// <summary>The folder of new images.</summary>
    public required string NormalDir { get; init; }

    /// <summary>Lists, checks and splits the new images, and checks that the old images the update needs are here.</summary>
    public static UpdatePlan Make(ModelProvenance provenance, string normalDir, EngineOptions options, (int Height, int Width) working,
        bool fineTune,
        IProgressReporter progress)
    {
        string dir = Path.GetFullPath(normalDir);
        var files = ImageFiles.List(dir);
        if (files.Count == 0) throw new AnomalySharpException($"{dir}: no images ({ImageFiles.Names}) to update the model with");
        var known = provenance.Fitted.Concat(provenance.Calibration).ToHashSet(StringComparer.Ordinal);
        var fresh = files.Where(f => !known.Contains(Path.GetFullPath(f))).ToList();
        int skipped = files.Count - fresh.Count;
        if (fresh.Count == 0)
            throw new AnomalySharpException($"{dir}: all {files.Count} images are already in the model (fitted or calibrated on); add "
                + $"new good images");
        if (skipped > 0) progress.Message($"{skipped} of the {files.Count} images in {dir} are already in the model: skipped");
        foreach (string f in fresh)
        {
            var shape = ImageShapes.ReadShape(f) ?? throw new AnomalySharpException($"{f}: not a readable image (its header could not "
                + $"be decoded)");
            if (ImageShapes.Mismatch(f, shape, provenance.ImageSizes, working) is { } why) throw new AnomalySharpException(why);
        }

        var samples = fresh.Select(f => new AnomalySample(f, false, "good", null)).ToList();
        var newCalibration = new List<AnomalySample>();
        var newFit = samples;
        if (provenance.Threshold == ThresholdRule.FalseAlarmRate)
        {
            var order = Enumerable.Range(0, samples.Count).ToArray();
            new Random(options.Seed + provenance.Updates + 1).Shuffle(order);
            var held = order.Take((int)Math.Round(samples.Count * options.NormalValidationFraction)).ToHashSet();
            newCalibration = samples.Where((_, i) => held.Contains(i)).ToList();
            newFit = samples.Where((_, i) => !held.Contains(i)).ToList();
            if (newFit.Count == 0)
                throw new AnomalySharpException($"{dir}: data.normal_validation_fraction={options.NormalValidationFraction} holds out "
                    + $"all {samples.Count} new images for calibration; add more good images");
        }

        var oldCalibration = provenance.Calibration.Select(p => new AnomalySample(p, false, "good", null)).ToList();
        if (provenance.Threshold == ThresholdRule.FalseAlarmRate)
        {
            RequireHere(provenance.Calibration, "its thresholds are set again on its held-out good images");
            long needed = FalseAlarmThreshold.MinimumCount(options.FalseAlarmRate);
            int total = oldCalibration.Count + newCalibration.Count;
            if (total < needed)
                throw new AnomalySharpException($"postprocessing.false_alarm_rate={options.FalseAlarmRate} needs at least {needed} "
                    + $"held-out good images, and the model's {oldCalibration.Count} with the {newCalibration.Count} new ones make "
                        + $"{total}");
        }
        var oldFitted = provenance.Fitted.Select(p => new AnomalySample(p, false, "good", null)).ToList();
        if (fineTune) RequireHere(provenance.Fitted,
            "a trained network is fine-tuned on the images it was trained on and the new ones together");

        var test = provenance.Test;
        var missingTest = test.Where(s => !File.Exists(s.ImagePath) || (s.MaskPath != null && !File.Exists(s.MaskPath))).ToList();
        if (missingTest.Count > 0)
        {
            if (provenance.Threshold == ThresholdRule.F1)
                throw new AnomalySharpException($"{missingTest[0].ImagePath}: the model's thresholds were chosen by F1 on its test "
                    + $"images, and {missingTest.Count} of the {test.Count} are gone; put them back to update it");
            progress.Message($"{missingTest.Count} of the model's {test.Count} test images are gone (first: "
                + $"{missingTest[0].ImagePath}): the updated model is reported on its calibration images");
            test = Array.Empty<AnomalySample>();
        }
        return new UpdatePlan
        {
            NewFit = newFit,
            NewCalibration = newCalibration,
            Calibration = oldCalibration.Concat(newCalibration).ToList(),
            Train = fineTune ? oldFitted.Concat(newFit).ToList() : newFit,
            Test = test,
            Known = skipped,
            NormalDir = dir,
        };
    }

    static void RequireHere(IReadOnlyList<string> paths, string why)
    {
        var missing = paths.Where(p => !File.Exists(p)).ToList();
        if (missing.Count > 0)
            throw new AnomalySharpException($"{missing[0]}: {why}, and {missing.Count} of the {paths.Count} are gone; put them back "
                + $"where they were");
    }

    /// <summary>The dataset the rest of the run sees: <see cref="Train"/> to fit, the test images to measure.</summary>
    public IAnomalyDataset Dataset(string? root) => new UpdateDataset(root ?? Path.GetDirectoryName(NormalDir)!,
        $"update with {NormalDir}", Train, Test);

    sealed class UpdateDataset(string root, string description, IReadOnlyList<AnomalySample> train,
        IReadOnlyList<AnomalySample> test) : IAnomalyDataset
    {
        public string Description => description;
        public string Root => root;
        public IReadOnlyList<AnomalySample> Train => train;
        public IReadOnlyList<AnomalySample> Test => test;
        public bool HasMasks => test.Any(s => s.MaskPath != null);
    }
}
