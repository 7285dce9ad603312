using System.Diagnostics;
using System.Globalization;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Engine;
using AnomalySharp.Inference;
using AnomalySharp.Models;
using AnomalySharp.Models.PatchCore;
using AnomalySharp.Packaging;
using static TorchSharp.torch;

/// <summary>
/// PatchCore's inverted-file search against the exact search on one fitted bank (default config, 10% coreset):
/// recall of the exact nearest bank row, distance error, and images/s of the inference graph at batch 1 and 16.
/// </summary>
static class SearchBench
{
    public static void Run(MvtecDataset ds, int threads, IReadOnlyList<(int Lists, int Probes, int Dims, int Rerank)> grid,
        string bankCache, bool accuracy)
    {
        var exactConfig = ModelRegistry.Defaults("patchcore");
        exactConfig.Set("model.search=exact");
        using var exact = ModelRegistry.Create(exactConfig);
        if (File.Exists(bankCache))
        {
            var (_, tensors) = ModelPackage.Load(bankCache);
            exact.LoadState(tensors);
            Console.WriteLine($"bank from {bankCache}");
        }
        else
        {
            var batcher = new Batcher(256, 16);
            var sw = Stopwatch.StartNew();
            exact.Fit(new FitData(ds.Train.Count, () => batcher.Enumerate(ds.Train, false)), NullProgress.Instance);
            Console.WriteLine($"fit (exact) on {ds.Train.Count} images: {sw.Elapsed.TotalSeconds:0.0} s");
            ModelPackage.Save(bankCache, new System.Text.Json.Nodes.JsonObject(), exact.GetState());
        }
        var bank = exact.GetState()["memory_bank"];
        var test = ds.Test.Take(48).ToList();
        using var probe = new Batcher(256, 16).Enumerate(ds.Test.Where((_, i) => i % 36 == 0).Take(16).ToList(), false).Single();

        string work = Path.Combine(Path.GetTempPath(), "anomalysharp-bench-search");
        Console.WriteLine($"| search ({bank.shape[0]:N0} bank rows, {threads} threads) | index s | recall@1 | mean rel. error | p99 "
            + $"rel. error | max rel. error | images/s b1 | images/s b16 | image AUROC | pixel AUROC | AUPRO |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
        using (var padim = ModelRegistry.Create(ModelRegistry.Defaults("padim")))
        {
            var few = ds.Train.Take(50).ToList();
            var batcher = new Batcher(256, 16);
            padim.Fit(new FitData(few.Count, () => batcher.Enumerate(few, false)), NullProgress.Instance);
            Console.WriteLine($"| (reference: PaDiM's inference graph) | | | | | | {Speed(padim, test, 1, threads):0.0} | "
                + $"{Speed(padim, test, 16, threads):0.0} | | | |");
        }
        bool skipExact = Environment.GetEnvironmentVariable("ANOMALYSHARP_BENCH_SKIP_EXACT") == "1";
        string exactAccuracy = accuracy && !skipExact ? Accuracy(exact, exactConfig, ds, work) : "";
        double one = Speed(exact, test, 1, threads), sixteen = Speed(exact, test, 16, threads);
        Console.WriteLine(FormattableString.Invariant($"| exact | | 1 | 0 | 0 | 0 | {one:0.0} | {sixteen:0.0} | {exactAccuracy}"));
        foreach (var (lists, probes, dims, rerank) in grid)
        {
            var config = ModelRegistry.Defaults("patchcore");
            config.Set($"model.search_lists={lists}");
            config.Set($"model.search_probes={probes}");
            config.Set($"model.search_dims={dims}");
            config.Set($"model.search_rerank={rerank}");
            using var model = (PatchCoreModel)ModelRegistry.Create(config);
            var sw = Stopwatch.StartNew();
            model.LoadState(new Dictionary<string, Tensor> { ["memory_bank"] = bank.clone() });
            double indexSeconds = sw.Elapsed.TotalSeconds;
            var cmp = model.CompareSearch(probe.Images, threads);
            var errors = cmp.RelativeErrors().Order().ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| ivf {lists} lists, {probes} probes{(dims > 0 ? $", {dims}-d pass, {rerank} re-ranked per list" : "")} | "
                    + $"{indexSeconds:0.0} | {cmp.Recall:0.0000} | {errors.Average():0.00000} | "
                        + $"{errors[(int)(errors.Length * 0.99)]:0.0000} | {errors[^1]:0.0000} | {Speed(model, test, 1, threads):0.0} "
                            + $"| {Speed(model, test, 16, threads):0.0} | {(accuracy ? Accuracy(model, config, ds, work) : "")}"));
            if (Environment.GetEnvironmentVariable("ANOMALYSHARP_BENCH_PROFILE") == "1") GraphProfile.Print(model,
                test.Take(16).ToList(), threads);
        }
    }

    /// <summary>`test` of the model on the whole test set: image AUROC, pixel AUROC and AUPRO, as table cells.</summary>
    static string Accuracy(IAnomalyModel model, AnomalySharp.Configuration.ConfigTree config, MvtecDataset ds, string work)
    {
        string dir = Path.Combine(work, "model"), output = Path.Combine(work, "test");
        config.Set("visualization.save_images=false");
        Directory.CreateDirectory(dir);
        new TrainedModel(model, config, new AnomalySharp.PostProcessing.NormalizationStats(0.5, 0.5, 0, 1, 0, 1),
            ds.Root).Save(Path.Combine(dir, "model.anomalysharp"));
        var r = new AnomalyEngine().Test(dir, ds, output, overwrite: true).Evaluation;
        return string.Create(CultureInfo.InvariantCulture, $"{r.ImageAuroc:0.0000} | {r.PixelAuroc:0.0000} | {r.Aupro:0.0000} |");
    }

    /// <summary>Images/s of the model's inference graph, decode included, after one warm-up batch.</summary>
    static double Speed(IAnomalyModel model, List<AnomalySample> test, int batchSize, int threads)
    {
        var batcher = new Batcher(256, batchSize);
        using var graph = new InferenceGraph(model, 256, threads);
        void Score(ImageBatch b) { using (b) { var (m, s) = graph.Run(b.Images); m.Dispose(); s.Dispose(); } }
        Score(batcher.Enumerate(test.Take(batchSize).ToList(), false).First());
        var sw = Stopwatch.StartNew();
        foreach (var b in batcher.Enumerate(test, false)) Score(b);
        return test.Count / sw.Elapsed.TotalSeconds;
    }
}

/// <summary>Where an inference graph spends its time: ONNX Runtime's profile summed by operator type.</summary>
static class GraphProfile
{
    public static void Print(IAnomalyModel model, List<AnomalySample> images, int threads)
    {
        byte[] bytes = Google.Protobuf.MessageExtensions.ToByteArray(InferenceGraph.BuildRaw(model, 256));
        using var options = AnomalySharp.Runtime.ComputeThreads.SessionOptions(threads);
        options.EnableProfiling = true;
        options.ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), "ort-profile");
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(bytes, options);
        var batcher = new Batcher(256, 1);
        foreach (var b in batcher.Enumerate(images, false))
            using (b)
            using (var input = b.Images.contiguous())
            {
                var t = new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(input.data<float>().ToArray(), new[] { 1, 3, 256, 256 });
                using var r = session.Run(new[] { Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor("image", t) });
            }
        string file = session.EndProfiling();
        var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
        var byOp = new Dictionary<string, double>();
        foreach (var e in doc.RootElement.EnumerateArray())
            if (e.GetProperty("cat").GetString() == "Node" && e.TryGetProperty("args", out var a) && a.TryGetProperty("op_name",
                out var op))
                byOp[op.GetString()!] = byOp.GetValueOrDefault(op.GetString()!) + e.GetProperty("dur").GetDouble();
        foreach (var (op, us) in byOp.OrderByDescending(kv => kv.Value).Take(12))
            Console.WriteLine($"  {op}: {us / images.Count / 1000:0.00} ms/image");
        File.Delete(file);
    }
}
