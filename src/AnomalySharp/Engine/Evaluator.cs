using System.Diagnostics;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Metrics;
using AnomalySharp.Models;
using static TorchSharp.torch;

namespace AnomalySharp.Engine;

/// <summary>
/// Scores labelled images through a model's inference graph (<see cref="InferenceGraph"/>, ONNX Runtime) and keeps
/// what metrics and pictures need: `train`'s evaluation and its validation between epochs, and `test`.
/// </summary>
internal sealed class Evaluator
{
    readonly IProgressReporter _progress;
    readonly EngineOptions _options;

    public Evaluator(IProgressReporter progress, EngineOptions options)
    {
        _progress = progress;
        _options = options;
    }

    /// <summary>Raw maps and scores of <paramref name="samples"/>, with their images, labels and (when <paramref name="masks"/>) masks.</summary>
    public EvaluationSet Evaluate(IAnomalyModel model, IReadOnlyList<AnomalySample> samples, Batcher batcher, bool masks, out double seconds, string title = "evaluate")
    {
        var clock = Stopwatch.StartNew();
        var kept = new List<AnomalySample>();
        // One tensor each for the whole set, filled batch by batch: a list of batch tensors joined at the end would
        // hold every map, image and mask twice at the join.
        Tensor? images = null, maps = null, scores = null, maskSet = null;
        try
        {
            using (var graph = new InferenceGraph(model, _options.ImageHeight, _options.ImageWidth, _options.Threads))
            using (var step = _progress.Start(title, samples.Count))
            {
                // The graph's protobuf and its serialized bytes (the model's weights, twice) are garbage once the session holds them.
                MemoryMonitor.EndStage("graph");
                foreach (var batch in batcher.Enumerate(samples, masks))
                {
                    using (batch)
                    using (NewDisposeScope())
                    {
                        var (batchMaps, batchScores) = graph.Run(batch.Images);
                        long n = samples.Count, at = kept.Count, b = batch.Samples.Count;
                        images ??= zeros(new[] { n }.Concat(batch.Images.shape.Skip(1)).ToArray(), dtype: ScalarType.Byte).DetachFromDisposeScope();
                        maps ??= zeros(new[] { n }.Concat(batchMaps.shape.Skip(1)).ToArray(), dtype: ScalarType.Float32).DetachFromDisposeScope();
                        scores ??= zeros(n, dtype: ScalarType.Float32).DetachFromDisposeScope();
                        if (masks) maskSet ??= zeros(new[] { n }.Concat(batch.Masks!.shape.Skip(1)).ToArray(), dtype: ScalarType.Byte).DetachFromDisposeScope();
                        images.narrow(0, at, b).copy_(batch.Images.mul(255f).round_().to_type(ScalarType.Byte));
                        maps.narrow(0, at, b).copy_(batchMaps);
                        scores.narrow(0, at, b).copy_(batchScores.flatten());
                        if (masks) maskSet!.narrow(0, at, b).copy_(batch.Masks!.to_type(ScalarType.Byte));
                        kept.AddRange(batch.Samples);
                    }
                    step.Advance(batch.Samples.Count);
                }
            }
            seconds = clock.Elapsed.TotalSeconds;
            Runtime.NativeHeap.Release(); // the graph's session and the per-batch buffers are gone
            if (kept.Count == 0) throw new AnomalySharpException("no test image could be read");
            var labels = tensor(kept.Select(s => s.IsAnomalous ? 1f : 0f).ToArray());
            // Skipped images leave unused rows at the end; the views keep the rows that were scored.
            return new EvaluationSet(kept, Rows(images!, kept.Count), Rows(maps!, kept.Count), Rows(scores!, kept.Count), labels,
                masks ? Rows(maskSet!, kept.Count) : null);
        }
        finally
        {
            images?.Dispose(); maps?.Dispose(); scores?.Dispose(); maskSet?.Dispose();
        }
    }

    /// <summary>The first <paramref name="count"/> rows (all of them when none was skipped) as a tensor of their own.</summary>
    static Tensor Rows(Tensor t, int count) => count == t.shape[0] ? t.alias() : t.narrow(0, 0, count);

    /// <summary>Image and pixel AUROC of a model on labelled images (the trainer's validation).</summary>
    public IReadOnlyDictionary<string, double> ValidationMetrics(IAnomalyModel model, IReadOnlyList<AnomalySample> samples, Batcher batcher, bool masks)
    {
        using var set = Evaluate(model, samples, batcher, masks, out _, "validate");
        using var guard = NativeCallGuard.Enter(); // the metrics pass implicit Scalars (see NativeCallGuard)
        using var scope = NewDisposeScope();
        var result = new Dictionary<string, double> { ["image_auroc"] = Auroc.Compute(set.Scores, set.Labels) };
        if (set.Masks is { } m)
            using (var pixels = CurveWalk.Sort(set.Maps))
                result["pixel_auroc"] = CurveSummary.Compute(pixels, m).Auroc;
        return result;
    }
}
