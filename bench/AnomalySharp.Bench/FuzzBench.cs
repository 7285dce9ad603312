using System.Diagnostics;

namespace AnomalySharp.Bench;

/// <summary>
/// `--fuzz SECONDS [--model MODEL.onnx|model.anomalysharp]`: each parser facing untrusted bytes under CsCheck's sampler for SECONDS, seeded
/// with the dataset's real files: cases run, rate, and the first failure (shrunk) if any.
/// </summary>
public static class FuzzBench
{
    public static int Run(string data, double seconds, string? model)
    {
        var images = Directory.EnumerateFiles(data, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
            .OrderBy(f => f, StringComparer.Ordinal).Where((_, i) => i % 50 == 0).Select(File.ReadAllBytes).ToList();
        var (body, contentType) = FuzzTargets.MultipartRequest(images[0], "seed.jpg");
        var targets = new List<(string Name, IReadOnlyList<byte[]> Seeds, Action<byte[], byte[]> Target)>
        {
            ("image decode", images, (b, _) => FuzzTargets.Decode(b)),
            ("multipart upload", new[] { body }, (b, _) => FuzzTargets.Multipart(b, contentType)),
        };
        string scratch = Path.Combine(Path.GetTempPath(), $"anomalysharp-fuzz-{Environment.ProcessId}.anomalysharp");
        if (model != null && model.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
            targets.Add(("exported model load", new[] { File.ReadAllBytes(model) }, FuzzTargets.LoadModel));
        else if (model != null)
            targets.Add(("model package load", new[] { File.ReadAllBytes(model) }, (b, _) => FuzzTargets.LoadPackage(b, scratch)));
        Console.WriteLine($"# fuzzing — CsCheck mutations of {images.Count} real images from {data}, {seconds:0} s per parser, 1 thread");
        Console.WriteLine("| parser | cases | cases/s | failures |\n|---|---|---|---|");
        int failed = 0;
        foreach (var (name, seeds, target) in targets)
        {
            var clock = Stopwatch.StartNew();
            string result = "none";
            long cases = 0;
            try { cases = FuzzTargets.Run(seeds, target, 0, 0, seconds); }
            catch (Exception e) { result = e.Message.Split('\n')[0]; failed++; }
            Console.WriteLine($"| {name} | {cases} | {cases / clock.Elapsed.TotalSeconds:0} | {result} |");
        }
        File.Delete(scratch);
        return failed == 0 ? 0 : 1;
    }
}
