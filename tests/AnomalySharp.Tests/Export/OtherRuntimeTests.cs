using System.Diagnostics;
using AnomalySharp.Data;
using AnomalySharp.Export;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AnomalySharp.Tests.Export;

/// <summary>
/// An export must not depend on one runtime's leniency (issue 39): PatchCore's default (inverted-file) export run by
/// onnxruntime-node 1.30.0, the npm release, in a Node process of its own, on real magnetic_tile images and on a
/// uniform grey image, gives our ONNX Runtime's scores and maps. Before each list's block had a sentinel row, an
/// image no patch of which probed some list gave that list's TopK an empty input, and 1.30 died with SIGFPE.
/// </summary>
// Allocates whole images and maps beside a fit: alone, so its collections never land in another test's TorchSharp call.
[Collection(IsolatedCollection.Name)]
[Trait(IsolatedCollection.Trait, IsolatedCollection.Value)]
public class OtherRuntimeTests
{
    const string NodeRuntimeVersion = "1.30.0";

    /// <summary>onnxruntime-node installed once (from the npm registry) into a cache folder; its node_modules folder.</summary>
    static string InstallOnnxRuntimeNode() => ForeignRuntimes.NpmInstall("onnxruntime-node", NodeRuntimeVersion);

    const string Script = """
        const ort = require('onnxruntime-node');
        const fs = require('fs');
        (async () => {
          const [model, inputs, count, size, output] = process.argv.slice(2);
          const s = await ort.InferenceSession.create(model);
          const all = new Float32Array(fs.readFileSync(inputs).buffer.slice(0));
          const n = parseInt(count), side = parseInt(size), one = 3 * side * side;
          const parts = [];
          for (let i = 0; i < n; i++) {
            const r = await s.run({ image: new ort.Tensor('float32', all.slice(i * one, (i + 1) * one), [1, 3, side, side]) });
            parts.push(Buffer.from(new Float32Array(r.score.data).buffer), Buffer.from(new Float32Array(r.anomaly_map.data).buffer));
          }
          fs.writeFileSync(output, Buffer.concat(parts));
        })().catch(e => { console.error(e); process.exit(3); });
        """;

    [Fact]
    public void PatchCoresDefaultExportRunsInOnnxRuntimeNode130WithOurScores()
    {
        string modules = InstallOnnxRuntimeNode();
        string dir = TestPaths.TempDir("other-runtime");
        using var trained = RealDataModels.Fit("patchcore");
        string onnx = Path.Combine(dir, "patchcore.onnx");
        OnnxExporter.Save(OnnxExporter.Build(trained), onnx);

        // The probe images as the runtime prepares them, and a uniform grey one: 9 inputs of [3,256,256].
        int side = RealDataModels.Size, one = 3 * side * side;
        var batcher = new Batcher(side, 8);
        using var batch = batcher.Enumerate(RealDataModels.Probe(RealDataModels.Data), false).Single();
        var images = batch.Images.contiguous().data<float>().ToArray();
        int n = images.Length / one + 1;
        var inputs = new float[n * one];
        images.CopyTo(inputs, 0);
        Array.Fill(inputs, 0.5f, images.Length, one);
        string inputFile = Path.Combine(dir, "inputs.f32"), outputFile = Path.Combine(dir, "node.f32"), script = Path.Combine(dir,
            "run.js");
        File.WriteAllBytes(inputFile, System.Runtime.InteropServices.MemoryMarshal.AsBytes(inputs.AsSpan()).ToArray());
        File.WriteAllText(script, Script);

        var psi = new ProcessStartInfo("node", new[] { script, onnx, inputFile, n.ToString(), side.ToString(), outputFile })
        { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["NODE_PATH"] = modules;
        using (var node = Process.Start(psi)!)
        {
            string err = node.StandardError.ReadToEnd();
            node.StandardOutput.ReadToEnd();
            Assert.True(node.WaitForExit(TimeSpan.FromMinutes(3)), "node did not finish in 3 minutes");
            Assert.True(node.ExitCode == 0, $"onnxruntime-node {NodeRuntimeVersion} exited {node.ExitCode} (136 is SIGFPE): {err}");
        }
        var theirs = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(outputFile)).ToArray();

        using var session = new InferenceSession(onnx);
        int plane = side * side, at = 0;
        for (int i = 0; i < n; i++)
        {
            var input = new DenseTensor<float>(inputs.AsMemory(i * one, one), new[] { 1, 3, side, side });
            using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("image", input) });
            float score = results.First(r => r.Name == "score").AsEnumerable<float>().Single();
            var map = results.First(r => r.Name == "anomaly_map").AsEnumerable<float>().ToArray();
            Assert.Equal(plane, map.Length);
            Assert.True(Math.Abs(score - theirs[at]) <= 1e-5, $"image {i}: score {score} here, {theirs[at]} in onnxruntime-node");
            at++;
            double worst = map.Select((v, j) => Math.Abs(v - theirs[at + j])).Max();
            Assert.True(worst <= 1e-4, $"image {i}: maps differ by up to {worst}");
            at += plane;
        }
        Assert.Equal(theirs.Length, at);
    }
}
