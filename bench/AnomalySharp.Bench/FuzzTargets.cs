using System.Diagnostics;
using AnomalySharp.Runtime;
using AnomalySharp.Serving;
using CsCheck;

namespace AnomalySharp.Bench;

/// <summary>
/// Mutation fuzzing of the parsers that face untrusted bytes, with CsCheck generating the mutations of real seed files:
/// image decoding (<see cref="ImageDecoder"/>, structure checks included), the model-file loaders (the
/// <c>.anomalysharp</c> package reader, and <see cref="OnnxModelFile.Verify"/> for exports, which runs before ONNX Runtime
/// ever sees the bytes) and the server's multipart reader (<see cref="UploadReader"/>). The property of each: any input ends in a result or
/// in that parser's own
/// exception type, within a time bound, never another exception, a crash or a hang. The tests run a fixed-seed number
/// of cases (deterministic); the bench's <c>--fuzz SECONDS</c> runs CsCheck's sampler for a time with shrinking.
/// </summary>
public static class FuzzTargets
{
    /// <summary>One mutation: flip, set, insert, delete, duplicate a slice, or truncate, at a relative position.</summary>
    public readonly record struct Edit(int Kind, double At, int Length, byte Value);

    /// <summary>Seed file index and one to eight edits.</summary>
    public static Gen<(int Seed, Edit[] Edits)> Mutations(int seeds) =>
        Gen.Select(Gen.Int[0, seeds - 1],
            Gen.Select(Gen.Int[0, 5], Gen.Double[0, 1], Gen.Int[1, 64], Gen.Byte, (k, at, len, v) => new Edit(k, at, len, v)).Array[1, 8]);

    /// <summary>Applies the edits to a copy of the seed.</summary>
    public static byte[] Apply(byte[] seed, Edit[] edits)
    {
        var b = new List<byte>(seed);
        foreach (var e in edits)
        {
            if (b.Count == 0) break;
            int at = Math.Min(b.Count - 1, (int)(e.At * b.Count));
            int len = Math.Min(e.Length, b.Count - at);
            switch (e.Kind)
            {
                case 0: b[at] ^= (byte)(1 << (e.Value & 7)); break;
                case 1: for (int i = 0; i < len; i++) b[at + i] = e.Value; break;
                case 2: b.InsertRange(at, Enumerable.Repeat(e.Value, len)); break;
                case 3: b.RemoveRange(at, len); break;
                case 4: b.InsertRange(at, b.GetRange(at, len)); break;
                default: b.RemoveRange(at, b.Count - at); break;
            }
        }
        return b.ToArray();
    }

    /// <summary>Decoding: a bounded image or an <see cref="ImageDecodeException"/>.</summary>
    public static void Decode(byte[] bytes)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            using var image = ImageDecoder.Decode(bytes, "fuzz", maxPixels: 40_000_000, targetSize: 256);
            if ((long)image.Width * image.Height > ImageDecoder.DecodeBudgetPixels(256))
                throw new InvalidOperationException($"decoded {image.Width}x{image.Height} over the budget");
        }
        catch (ImageDecodeException) { }
        if (clock.Elapsed > TimeSpan.FromSeconds(5)) throw new TimeoutException($"decode took {clock.Elapsed.TotalSeconds:0.0} s");
    }

    /// <summary>The model loader: a verified layout or a <see cref="ModelLoadException"/>; a mutated graph never verifies.</summary>
    public static void LoadModel(byte[] bytes, byte[] original)
    {
        try
        {
            var layout = OnnxModelFile.Verify(bytes, "fuzz.onnx");
            var graph = bytes.AsSpan((int)layout.GraphOffset, (int)layout.GraphLength);
            var seed = OnnxModelFile.Read(original, "seed");
            var originalGraph = original.AsSpan((int)seed.GraphOffset, (int)seed.GraphLength);
            if (!graph.SequenceEqual(originalGraph)) throw new InvalidOperationException("a changed graph passed its checksum");
        }
        catch (ModelLoadException) { }
    }

    /// <summary>
    /// The model-package reader (<c>model.anomalysharp</c>: a ZIP of a manifest and tensors, each checksummed): the
    /// tensors, or an <see cref="AnomalySharpException"/> (exit code 2 in the CLI), never another exception.
    /// </summary>
    public static void LoadPackage(byte[] bytes, string scratch)
    {
        File.WriteAllBytes(scratch, bytes);
        try
        {
            var (_, tensors) = AnomalySharp.Packaging.ModelPackage.Load(scratch);
            foreach (var t in tensors.Values) t.Dispose();
        }
        catch (AnomalySharpException) { }
    }

    /// <summary>The multipart reader: always an upload or a rejection with a 4xx status.</summary>
    public static void Multipart(byte[] body, string contentType)
    {
        var result = UploadReader.ReadAsync(contentType, new MemoryStream(body), new UploadReader.Limits(1 << 20)).GetAwaiter().GetResult();
        if (result is UploadReader.Rejection r && r.Status is < 400 or >= 500) throw new InvalidOperationException($"status {r.Status}");
        if (result is UploadReader.Upload u
            && (u.Name.Length == 0 || u.Name.Length > 255
                || u.Bytes.Length > 1 << 20)) throw new InvalidOperationException("upload out of bounds");
    }

    /// <summary>A multipart body as HttpClient sends it, with its content type.</summary>
    public static (byte[] Body, string ContentType) MultipartRequest(byte[] file, string name)
    {
        using var form = new MultipartFormDataContent("fuzzboundary0123");
        form.Add(new StringContent("note"), "comment");
        form.Add(new ByteArrayContent(file), "image", name);
        return (form.ReadAsByteArrayAsync().GetAwaiter().GetResult(), form.Headers.ContentType!.ToString());
    }

    /// <summary>
    /// Runs <paramref name="cases"/> generated cases from a fixed seed (deterministic), or with <paramref name="seconds"/>
    /// &gt; 0 CsCheck's own sampler for that long (random, shrinking a failure); returns the cases run.
    /// </summary>
    public static long Run(IReadOnlyList<byte[]> seeds, Action<byte[], byte[]> target, int cases, ulong seed, double seconds = 0)
    {
        var gen = Mutations(seeds.Count);
        void One((int Seed, Edit[] Edits) m) => target(Apply(seeds[m.Seed], m.Edits), seeds[m.Seed]);
        if (seconds > 0)
        {
            long count = 0;
            gen.Sample(m => { One(m); Interlocked.Increment(ref count); }, time: (int)Math.Ceiling(seconds), threads: 1);
            return count;
        }
        var pcg = new PCG(1, seed);
        for (int i = 0; i < cases; i++)
        {
            var m = gen.Generate(pcg, null, out _);
            try { One(m); }
            catch (Exception e)
            {
                throw new InvalidOperationException($"case {i} (seed file {m.Seed}, edits "
                + $"{string.Join(" ", m.Edits)}): {e.GetType().Name}: {e.Message}", e);
            }
        }
        return cases;
    }
}
