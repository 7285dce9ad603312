using AnomalySharp.Components;
using AnomalySharp.Models;
using AnomalySharp.Runtime;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using static TorchSharp.torch;

namespace AnomalySharp.Inference;

/// <summary>
/// The one inference path: a fitted model's graph (<see cref="IAnomalyModel.AppendOnnx"/>) run by ONNX Runtime.
/// `train`'s evaluation and validation and `test` score through it; the exporter (Export.OnnxExporter) writes the same graph
/// with the normalization tail appended, which `predict`, `serve` and deployments run. Images come in as the
/// <see cref="Data.Batcher"/> prepares them (the runtime's preprocessing graph), so every path sees the same floats.
/// </summary>
internal sealed class InferenceGraph : IDisposable
{
    /// <summary>The raw (unnormalized) map output's name.</summary>
    public const string RawMapName = "raw_map";
    /// <summary>The input's name: images [N,3,H,W], RGB 0..1 (the exported file's input too).</summary>
    public const string InputName = "image";
    /// <summary>The raw image score output's name.</summary>
    public const string RawScoreName = "raw_score";

    readonly InferenceSession _session;
    static readonly RunOptions NoOptions = new();

    /// <summary>The input's height (data.image_size).</summary>
    public int ImageHeight { get; }
    /// <summary>The input's width.</summary>
    public int ImageWidth { get; }
    /// <summary>The largest batch run at once (larger batches are split).</summary>
    public int MaxBatch { get; }

    /// <summary>Builds the raw graph of a fitted model and a session of it with <paramref name="threads"/> threads (0: every
    /// core).</summary>
    public InferenceGraph(IAnomalyModel model, int imageSize, int threads) : this(model, imageSize, imageSize, threads) { }

    /// <summary>
    /// As <see cref="InferenceGraph(IAnomalyModel, int, int)"/>, for inputs of <paramref name="height"/> × <paramref name="width"/>
    /// (not square: a tiled model only).
    /// </summary>
    public InferenceGraph(IAnomalyModel model, int height, int width, int threads)
    {
        ImageHeight = height; ImageWidth = width;
        MaxBatch = model.OnnxMaxBatch > 0 ? model.OnnxMaxBatch : int.MaxValue;
        byte[] bytes = BuildRaw(model, height, width).ToByteArray();
        // The protobuf (the model's weights once more) is garbage now; collected before ONNX Runtime makes its own copies.
        Diagnostics.MemoryMonitor.ReleaseGarbage();
        using var options = ComputeThreads.SessionOptions(threads, arena: false);
        try { _session = new InferenceSession(bytes, options); }
        catch (OnnxRuntimeException e)
        {
            throw new AnomalySharpException($"model '{model.Name}': ONNX Runtime refused its inference "
            + $"graph ({e.Message.Split('\n')[0]})", e);
        }
    }

    /// <summary>Declares the input [N,3,H,W] and appends the model: returns the value names of the raw maps and scores.</summary>
    /// <exception cref="AnomalySharpException">The graph would pass ONNX's 2 GB for one file, or the working size is not square for an
    /// untiled model.</exception>
    internal static (string Maps, string Scores) Append(OnnxGraph g, IAnomalyModel model, int height, int width)
    {
        g.Input(InputName, "batch", 3, height, width);
        var outputs = model is IRectangularModel rectangular ? rectangular.AppendRectangular(g, InputName, height, width)
            : height == width ? model.AppendOnnx(g, InputName, height)
            : throw new AnomalySharpException($"config key 'data.image_size': {model.Name} works on square images; a [height, width] "
                + $"working size needs data.tiling");
        if (g.ConstantBytes > OnnxGraph.MaxConstantBytes)
            throw new AnomalySharpException(
                $"config key 'data.image_size': {model.Name} at {height} × {width} px needs {g.ConstantBytes / 1e9:F1} GB of "
                + "constants in its graph, over ONNX's 2 GB for one file; use data.tiling (e.g. tile_size 256), a smaller "
                + "data.image_size or a smaller model");
        return outputs;
    }

    /// <summary>The model's graph with raw outputs <see cref="RawMapName"/> [N,1,S,S] and <see cref="RawScoreName"/> [N].</summary>
    public static ModelProto BuildRaw(IAnomalyModel model, int imageSize) => BuildRaw(model, imageSize, imageSize);

    /// <summary>The model's graph for inputs of <paramref name="height"/> × <paramref name="width"/>.</summary>
    public static ModelProto BuildRaw(IAnomalyModel model, int height, int width)
    {
        var g = new OnnxGraph();
        var (maps, scores) = Append(g, model, height, width);
        g.Rename(maps, RawMapName);
        g.Rename(scores, RawScoreName);
        g.Output(RawMapName, "batch", 1, height, width);
        g.Output(RawScoreName, "batch");
        return g.ToModel(new Dictionary<string, string>(), $"AnomalySharp {model.Name}: raw maps and scores");
    }

    /// <summary>Raw maps [B,1,H,W] and scores [B] of images [B,3,H,W] (RGB 0..1); the caller owns both tensors.</summary>
    public (Tensor Maps, Tensor Scores) Run(Tensor images)
    {
        long b = images.shape[0];
        int h = ImageHeight, w = ImageWidth;
        if (images.dim() != 4 || images.shape[1] != 3 || images.shape[2] != h || images.shape[3] != w)
            throw new ArgumentException($"images must be [B,3,{h},{w}], got [{string.Join(",", images.shape)}]", nameof(images));
        using var input = images.to_type(ScalarType.Float32).contiguous();
        var maps = empty(b, 1, h, w);
        var scores = empty(b);
        int plane = 3 * h * w, mapPlane = h * w;
        for (int start = 0; start < b; start += MaxBatch)
        {
            int n = (int)Math.Min(MaxBatch, b - start);
            using var value = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance,
                Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float, new long[] { n, 3, h, w },
                TensorSpan.Address(input) + start * plane * sizeof(float), (long)n * plane * sizeof(float));
            using var outputs = _session.Run(NoOptions, new[] { InputName }, new[] { value }, new[] { RawMapName, RawScoreName });
            outputs[0].GetTensorDataAsSpan<float>().CopyTo(TensorSpan.Floats(maps).Slice(start * mapPlane, n * mapPlane));
            outputs[1].GetTensorDataAsSpan<float>().CopyTo(TensorSpan.Floats(scores).Slice(start, n));
        }
        return (maps, scores);
    }

    /// <inheritdoc />
    public void Dispose() => _session.Dispose();
}
