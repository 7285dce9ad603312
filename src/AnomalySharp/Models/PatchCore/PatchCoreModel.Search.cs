using AnomalySharp.Backbones;
using AnomalySharp.Components;
using AnomalySharp.Graphs;
using AnomalySharp.Runtime;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace AnomalySharp.Models.PatchCore;

internal sealed partial class PatchCoreModel
{
    /// <summary>
    /// Runs the exact search and this model's inverted-file search on the patches of <paramref name="images"/>
    /// [B,3,S,S] in one ONNX Runtime graph (the same nodes the inference graph uses), for recall and distance error.
    /// </summary>
    public SearchComparison CompareSearch(Tensor images, int threads)
    {
        if (_bank is null || _index is null) throw new InvalidOperationException("patchcore has no inverted-file search to compare "
            + "(model.search: exact)");
        if (_backbone is not IOnnxBackbone exportable) throw new AnomalySharpException($"backbone {_backbone.Name} cannot be exported "
            + $"to ONNX");
        int size = (int)images.shape[2];
        var g = new OnnxGraph();
        g.Input("images", "batch", 3, size, size);
        var features = exportable.AppendOnnx(g, "images", _layers);
        string rows = AppendPatchRows(g, features, size, out _, out _);
        string bank = g.Constant("patchcore_memory_bank", _bank);
        string norms = g.Node("Reshape", new[] { g.SumSquaresLast(rows), g.Ints(-1) });
        var (exactD2, exactRows) = AppendExactSearch(g, rows, norms, bank, _bank.shape[0], new());
        var (ivfD2, ivfRows) = _index.AppendSearch(g, rows, norms, _bank, bank, _searchProbes, _searchRerank);
        string Out(string value, string name, Onnx.TensorProto.Types.DataType type)
        {
            g.Rename(g.Node("Reshape", new[] { value, g.Ints(-1) }), name);
            g.Output(name, type, "patches");
            return name;
        }
        Out(exactD2, "exact_d2", Onnx.TensorProto.Types.DataType.Float);
        Out(ivfD2, "ivf_d2", Onnx.TensorProto.Types.DataType.Float);
        Out(exactRows, "exact_rows", Onnx.TensorProto.Types.DataType.Int64);
        Out(ivfRows, "ivf_rows", Onnx.TensorProto.Types.DataType.Int64);
        byte[] bytes = g.ToModel(new Dictionary<string, string>(), "patchcore search comparison").ToByteArray();
        using var options = ComputeThreads.SessionOptions(threads);
        using var session = new InferenceSession(bytes, options);
        using var input = images.to_type(ScalarType.Float32).contiguous();
        using var value = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance,
            Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float,
            input.shape, TensorSpan.Address(input), input.numel() * sizeof(float));
        using var run = new RunOptions();
        using var outputs = session.Run(run, new[] { "images" }, new[] { value }, new[] { "exact_d2", "ivf_d2", "exact_rows", "ivf_rows" });
        return new SearchComparison(outputs[0].GetTensorDataAsSpan<float>().ToArray(), outputs[1].GetTensorDataAsSpan<float>().ToArray(),
            outputs[2].GetTensorDataAsSpan<long>().ToArray(), outputs[3].GetTensorDataAsSpan<long>().ToArray());
    }
}
