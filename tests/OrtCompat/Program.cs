using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

// Runs exported models in this ONNX Runtime: argument 1 is a JSON list of jobs {model, inputs, count, size, output}.
// Each job's inputs are `count` images [3,size,size] of float32; its output is, per image, the score then the map.
// Prints the runtime's version first, so the tests can check which one ran.
if (args.Length != 1)
{
    Console.Error.WriteLine("usage: OrtCompat JOBS.json");
    return 2;
}
Console.WriteLine("onnxruntime " + OrtEnv.Instance().GetVersionString());
var jobs = JsonDocument.Parse(File.ReadAllText(args[0])).RootElement;
foreach (var job in jobs.EnumerateArray())
{
    string model = job.GetProperty("model").GetString()!, output = job.GetProperty("output").GetString()!;
    int count = job.GetProperty("count").GetInt32(), size = job.GetProperty("size").GetInt32(), one = 3 * size * size;
    var all = System.Runtime.InteropServices.MemoryMarshal.Cast<byte,
        float>(File.ReadAllBytes(job.GetProperty("inputs").GetString()!)).ToArray();
    using var session = new InferenceSession(model);
    using var file = File.Create(output);
    for (int i = 0; i < count; i++)
    {
        var input = new DenseTensor<float>(all.AsMemory(i * one, one), new[] { 1, 3, size, size });
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("image", input) });
        var score = results.First(r => r.Name == "score").AsEnumerable<float>().ToArray();
        var map = results.First(r => r.Name == "anomaly_map").AsEnumerable<float>().ToArray();
        file.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(score.AsSpan()));
        file.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(map.AsSpan()));
    }
}
return 0;
