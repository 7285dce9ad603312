using System.Diagnostics;
using System.Globalization;
using AnomalySharp.Runtime;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

/// <summary>
/// This CPU's sustained GEMM rate in ONNX Runtime (issue #14 item 3): float32 MatMul and u8×s8 MatMulInteger with a
/// constant right-hand side (as a model's weights are), at the shapes that matter here, in GMAC/s.
/// </summary>
static class GemmBench
{
    public static void Run(int threads)
    {
        Console.WriteLine($"| GEMM in ONNX Runtime, {threads} threads (M×K·K×N, constant right side) | float32 GMAC/s | u8×s8 → s32 "
            + $"GMAC/s |");
        Console.WriteLine("|---|---|---|");
        foreach (var (m, k, n) in new[] { (1024, 1024, 1024), (4096, 256, 256), (1024, 384, 4096), (64, 64, 1220), (64, 384, 1220) })
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {m}×{k}·{k}×{n} | {Rate(m, k, n, threads, integer: false):0.0} | {Rate(m, k, n, threads, integer: true):0.0} |"));
    }

    internal static double Rate(int m, int k, int n, int threads, bool integer)
    {
        var g = new OnnxGraph();
        var rng = new Random(1);
        if (integer)
        {
            g.Input("a", TensorProto.Types.DataType.Uint8, m, k);
            var b = new byte[k * n];
            rng.NextBytes(b);
            string weights = g.AddInitializer("b", TensorProto.Types.DataType.Int8, b, k, n);
            g.Rename(g.Node("MatMulInteger", new[] { "a", weights }), "y");
            g.Output("y", TensorProto.Types.DataType.Int32, m, n);
        }
        else
        {
            g.Input("a", m, k);
            var b = Enumerable.Range(0, k * n).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
            g.Rename(g.Node("MatMul", new[] { "a", g.Constant("b", b, k, n) }), "y");
            g.Output("y", m, n);
        }
        byte[] bytes = g.ToModel(new Dictionary<string, string>(), "gemm").ToByteArray();
        using var options = ComputeThreads.SessionOptions(threads);
        using var session = new InferenceSession(bytes, options);
        using var input = integer
            ? OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, m * k).Select(i => (byte)(i * 31 % 251)).ToArray(),
                new long[] { m, k })
            : OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, m * k).Select(i => (float)(i % 97) / 97f).ToArray(),
                new long[] { m, k });
        using var run = new RunOptions();
        void Once() { using var r = session.Run(run, new[] { "a" }, new[] { input }, new[] { "y" }); }
        Once();
        double macs = (double)m * k * n;
        int iterations = (int)Math.Clamp(4e9 / macs, 3, 20000);
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++) Once();
        return macs * iterations / sw.Elapsed.TotalSeconds / 1e9;
    }
}
