using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using AnomalySharp.Data;
using AnomalySharp.Runtime;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AnomalySharp.Bench;

/// <summary>
/// Issue 39: an exported model scored by onnxruntime-node (any installed version, given its node_modules) on every test
/// image of an MVTec-layout dataset, against the product's ONNX Runtime: the largest score and map differences.
/// The images are prepared once, by the runtime's own decode and resize, so both runtimes see the same tensors.
/// </summary>
internal static class RuntimeCheck
{
    public static int Run(string onnx, string data, string nodeModules)
    {
        using var detector = new OnnxAnomalyDetector(File.ReadAllBytes(onnx), onnx);
        int h = detector.ImageHeight, w = detector.ImageWidth, one = 3 * h * w;
        var test = new MvtecDataset(data).Test;
        var inputs = new float[test.Count * one];
        for (int i = 0; i < test.Count; i++)
            using (var image = detector.Decode(File.ReadAllBytes(test[i].ImagePath), test[i].ImagePath))
                detector.Prepare(image, inputs.AsSpan(i * one, one));
        string dir = Directory.CreateTempSubdirectory("runtime-check").FullName;
        string inputFile = Path.Combine(dir, "inputs.f32"), outputFile = Path.Combine(dir, "node.f32"), script = Path.Combine(dir,
            "run.js");
        File.WriteAllBytes(inputFile, MemoryMarshal.AsBytes(inputs.AsSpan()).ToArray());
        File.WriteAllText(script, """
            const ort = require('onnxruntime-node'), fs = require('fs');
            (async () => {
              const [model, inputs, n, h, w, output] = process.argv.slice(2);
              const s = await ort.InferenceSession.create(model), all = new Float32Array(fs.readFileSync(inputs).buffer.slice(0));
              const one = 3 * h * w, parts = [];
              for (let i = 0; i < n; i++) {
                const r = await s.run({ image: new ort.Tensor('float32', all.slice(i * one, (i + 1) * one), [1, 3, +h, +w]) });
                parts.push(Buffer.from(new Float32Array(r.score.data).buffer), Buffer.from(new Float32Array(r.anomaly_map.data).buffer));
              }
              fs.writeFileSync(output, Buffer.concat(parts));
              console.log('onnxruntime-node ' + require('onnxruntime-node/package.json').version);
            })().catch(e => { console.error(String(e)); process.exit(3); });
            """);
        var clock = Stopwatch.StartNew();
        var psi = new ProcessStartInfo("node", new[] { script, onnx, inputFile, test.Count.ToString(CultureInfo.InvariantCulture),
            h.ToString(CultureInfo.InvariantCulture), w.ToString(CultureInfo.InvariantCulture), outputFile })
        { RedirectStandardOutput = true };
        psi.Environment["NODE_PATH"] = nodeModules;
        using (var node = Process.Start(psi)!)
        {
            string banner = node.StandardOutput.ReadToEnd().Trim();
            node.WaitForExit();
            if (node.ExitCode != 0) { Console.Error.WriteLine($"node exited {node.ExitCode}"); return 1; }
            Console.WriteLine($"{banner}: {test.Count} images in {clock.Elapsed.TotalSeconds:0.0} s");
        }
        var theirs = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(outputFile)).ToArray();
        using var session = new InferenceSession(onnx);
        double scoreDiff = 0, mapDiff = 0;
        int at = 0;
        for (int i = 0; i < test.Count; i++)
        {
            var input = new DenseTensor<float>(inputs.AsMemory(i * one, one), new[] { 1, 3, h, w });
            using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("image", input) });
            float score = results.First(r => r.Name == "score").AsEnumerable<float>().Single();
            scoreDiff = Math.Max(scoreDiff, Math.Abs(score - theirs[at++]));
            foreach (float v in results.First(r => r.Name == "anomaly_map").AsEnumerable<float>()) mapDiff = Math.Max(mapDiff,
                Math.Abs(v - theirs[at++]));
        }
        Console.WriteLine(FormattableString.Invariant($"{onnx}: {test.Count} test images, largest difference from ONNX Runtime ")
            + FormattableString.Invariant($"{OrtEnv.Instance().GetVersionString()}: scores {scoreDiff:0.0e+0}, maps {mapDiff:0.0e+0}"));
        Directory.Delete(dir, recursive: true);
        return scoreDiff <= 1e-5 && mapDiff <= 1e-4 ? 0 : 1;
    }
}
