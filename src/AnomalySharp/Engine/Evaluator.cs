using System.Diagnostics;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Inference;
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

    /// <summary>
    /// Working-size pixels per evaluation batch at most: 32 images at 256² (above the default batch of 16), 8 at 512², 2
    /// at 1024², 1 at 2048². The backbone's activations grow with the batch's pixels (1.1 GB for 16 images at 512²).
    /// </summary>
    const long MaxBatchPixels = 1L << 21;

    public Evaluator(IProgressReporter progress, EngineOptions options)
    {
        _progress = progress;
        _options = options;
    }

    /// <summary>Raw maps and scores of <paramref name="samples"/>, with their images, labels and (when <paramref name="masks"/>)
    /// masks.</summary>
    public EvaluationSet Evaluate(IAnomalyModel model, IReadOnlyList<AnomalySample> samples, Batcher batcher, bool masks,
        out double seconds, string title = "evaluate") =>
        Evaluate(model, samples, batcher, masks, _options.SaveImages, out seconds, title);

    /// <summary>As the overload above; the resized pictures are kept only when <paramref name="keepImages"/> (for the report's
    /// pictures).</summary>
    public EvaluationSet Evaluate(IAnomalyModel model, IReadOnlyList<AnomalySample> samples, Batcher batcher, bool masks,
        bool keepImages, out double seconds, string title = "evaluate")
    {
        var clock = Stopwatch.StartNew();
        var kept = new List<AnomalySample>();
        // One store each for the whole set, filled batch by batch: a list of batch tensors joined at the end would hold
        // every map, picture and mask twice at the join. Large sets go to temporary files (runtime.evaluation_memory_mb).
        RowStore? images = null, maps = null, maskSet = null;
        Tensor? scores = null;
        try
        {
            using (var graph = new InferenceGraph(model, _options.ImageHeight, _options.ImageWidth, _options.Threads))
            using (var step = _progress.Start(title, samples.Count))
            {
                // The graph's protobuf and its serialized bytes (the model's weights, twice) are garbage once the session holds them.
                MemoryMonitor.EndStage("graph");
                foreach (var batch in batcher.WithMaxPixels(MaxBatchPixels).Enumerate(samples, masks))
                {
                    using (batch)
                    using (NewDisposeScope())
                    {
                        var (batchMaps, batchScores) = graph.Run(batch.Images);
                        long n = samples.Count, at = kept.Count, b = batch.Samples.Count;
                        if (maps is null)
                        {
                            long[] mapRow = batchMaps.shape.Skip(1).ToArray(), imageRow = batch.Images.shape.Skip(1).ToArray();
                            long plane = mapRow[^1] * mapRow[^2];
                            long bytes = n * plane * (4 + (masks ? 1 : 0) + (keepImages ? imageRow[0] : 0));
                            bool inMemory = bytes <= _options.EvaluationMemoryBytes;
                            maps = new RowStore(n, mapRow, ScalarType.Float32, inMemory);
                            if (masks) maskSet = new RowStore(n, batch.Masks!.shape.Skip(1).ToArray(), ScalarType.Byte, inMemory);
                            if (keepImages) images = new RowStore(n, imageRow, ScalarType.Byte, inMemory);
                            scores = zeros(n, dtype: ScalarType.Float32).DetachFromDisposeScope();
                        }
                        maps.Write(at, batchMaps);
                        scores!.narrow(0, at, b).copy_(batchScores.flatten());
                        maskSet?.Write(at, batch.Masks!.to_type(ScalarType.Byte));
                        images?.Write(at, batch.Images.mul(255f).round_().to_type(ScalarType.Byte));
                        kept.AddRange(batch.Samples);
                    }
                    step.Advance(batch.Samples.Count);
                }
            }
            seconds = clock.Elapsed.TotalSeconds;
            Runtime.NativeHeap.ReleaseIfLarge(); // the graph's session and the per-batch buffers are gone
            if (kept.Count == 0) throw new AnomalySharpException("no test image could be read");
            var labels = tensor(kept.Select(s => s.IsAnomalous ? 1f : 0f).ToArray());
            // Skipped images leave unused rows at the end; the set reads the rows that were scored.
            using var scored = scores!.narrow(0, 0, kept.Count);
            var set = new EvaluationSet(kept, scored.clone(), labels, maps!, maskSet, images);
            maps = maskSet = images = null; // the set owns them now
            return set;
        }
        finally
        {
            images?.Dispose(); maps?.Dispose(); maskSet?.Dispose(); scores?.Dispose();
        }
    }

    /// <summary>Image and pixel AUROC of a model on labelled images (the trainer's validation).</summary>
    public IReadOnlyDictionary<string, double> ValidationMetrics(IAnomalyModel model, IReadOnlyList<AnomalySample> samples,
        Batcher batcher, bool masks)
    {
        using var set = Evaluate(model, samples, batcher, masks, keepImages: false, out _, "validate");
        using var scope = NewDisposeScope(); // the metrics hold the native-call guard themselves
        var result = new Dictionary<string, double> { ["image_auroc"] = Auroc.Compute(set.Scores, set.Labels) };
        if (set.HasMasks)
            using (var pixels = CurveWalk.Sort(set, runLength: _options.SortRunLength))
                result["pixel_auroc"] = CurveSummary.Compute(pixels).Auroc;
        return result;
    }
}
