using AnomalySharp.Engine;
using AnomalySharp.Export;
using AnomalySharp.Packaging;
using AnomalySharp.Tests.Models;

namespace AnomalySharp.Tests.Export;

/// <summary>A PaDiM model fitted on the small synthetic set (128 px), saved and exported to ONNX once per test run.</summary>
internal static class ExportedSynthetic
{
    static readonly Lazy<(string ModelDir, string Onnx)> Built = new(() =>
    {
        string dir = TestPaths.TempDir("exported-synthetic");
        new AnomalyEngine().Train(PadimTests.SmallConfig(), PadimTests.SmallSynthetic(), Path.Combine(dir, "padim"), false);
        string onnx = Path.Combine(dir, "padim.onnx");
        using (var trained = TrainedModel.Load(Path.Combine(dir, "padim"))) OnnxExporter.Save(OnnxExporter.Build(trained), onnx);
        return (Path.Combine(dir, "padim"), onnx);
    });

    public static string ModelDir => Built.Value.ModelDir;
    public static string Onnx => Built.Value.Onnx;

    /// <summary>A defective and a good test image of the synthetic set.</summary>
    public static (string Defective, string Good) Images
    {
        get
        {
            var ds = PadimTests.SmallSynthetic();
            return (ds.Test.First(s => s.IsAnomalous).ImagePath, ds.Test.First(s => !s.IsAnomalous).ImagePath);
        }
    }
}
