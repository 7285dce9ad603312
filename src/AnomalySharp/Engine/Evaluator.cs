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
        var images = new List<Tensor>(); var maps = new List<Tensor>(); var scores = new List<Tensor>(); var maskList = new List<Tensor>();
        using (var graph = new InferenceGraph(model, _options.ImageSize, _options.Threads))
        using (var step = _progress.Start(title, samples.Count))
        {
            foreach (var batch in batcher.Enumerate(samples, masks))
            {
                using (batch)
                using (NewDisposeScope())
                {
                    var (batchMaps, batchScores) = graph.Run(batch.Images);
                    // The scope frees the byte copy's intermediates; the kept tensors leave it and the lists own them.
                    kept.AddRange(batch.Samples);
                    images.Add(batch.Images.mul(255f).round_().to_type(ScalarType.Byte).DetachFromDisposeScope());
                    maps.Add(batchMaps.DetachFromDisposeScope());
                    scores.Add(batchScores.DetachFromDisposeScope());
                    if (masks) maskList.Add(batch.Masks!.to_type(ScalarType.Byte).DetachFromDisposeScope());
                }
                step.Advance(batch.Samples.Count);
            }
        }
        seconds = clock.Elapsed.TotalSeconds;
        Runtime.NativeHeap.Release(); // the graph's session and the per-batch buffers are gone
        if (kept.Count == 0) throw new AnomalySharpException("no test image could be read");
        var labels = tensor(kept.Select(s => s.IsAnomalous ? 1f : 0f).ToArray());
        var set = new EvaluationSet(kept, cat(images, 0), cat(maps, 0), cat(scores, 0), labels, masks ? cat(maskList, 0) : null);
        foreach (var t in images.Concat(maps).Concat(scores).Concat(maskList)) t.Dispose();
        return set;
    }

    /// <summary>Image and pixel AUROC of a model on labelled images (the trainer's validation).</summary>
    public IReadOnlyDictionary<string, double> ValidationMetrics(IAnomalyModel model, IReadOnlyList<AnomalySample> samples, Batcher batcher, bool masks)
    {
        using var set = Evaluate(model, samples, batcher, masks, out _, "validate");
        using var scope = NewDisposeScope();
        var result = new Dictionary<string, double> { ["image_auroc"] = Auroc.Compute(set.Scores, set.Labels) };
        if (set.Masks is { } m)
            using (var pixels = CurveWalk.Sort(set.Maps))
                result["pixel_auroc"] = CurveSummary.Compute(pixels, m).Auroc;
        return result;
    }
}
