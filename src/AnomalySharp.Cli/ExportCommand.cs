using System.CommandLine;
using AnomalySharp.Engine;

namespace AnomalySharp.Cli;

/// <summary>`export`: a saved model to ONNX (float or INT8) or a Triton repository.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var modelPath = new Option<string>("--model-path")
        {
            Description = "a training output folder or its model.anomalysharp file",
            Required = true
        };
        var format = CommandOptions.Opt("--format",
            "onnx (one .onnx file, default) or triton (a Triton Inference Server model repository)");
        var output = new Option<string>("--output")
        {
            Description = "the .onnx file to write (onnx), or the repository folder (triton)",
            Required = true
        };
        var int8 = CommandOptions.Flag("--int8", "quantize the backbone to INT8 (static, calibrated on normal images)");
        var calibration = CommandOptions.Opt("--calibration",
            "with --int8: folder of normal images to calibrate on (default: the model's training images)");
        var name = CommandOptions.Opt("--name", "triton: the model's name in the repository (default anomalysharp_<model>)");
        var overwrite = CommandOptions.Flag("--overwrite", "replace the output if it exists");
        var runtime = CommandOptions.Opt("--runtime",
            "the oldest ONNX Runtime release the file must run in, e.g. 1.16; an export that needs more is refused");
        var cmd = new Command("export", "export a saved model to ONNX (image [N,3,S,S] RGB 0..1 -> anomaly_map, score; normalized) or "
            + "a Triton repository")
            { modelPath, format, output, int8, calibration, name, overwrite, runtime };
        cmd.SetAction(p =>
        {
            Runtime.RuntimeRequirement? needs = null;
            string written = new ConsoleProgress().Run(r =>
            {
                var exporter = new ModelExporter(r, Shutdown.Token);
                var exportFormat = ModelExporter.ParseFormat(p.GetValue(format) ?? "onnx");
                string path = exporter.Export(p.GetValue(modelPath)!, exportFormat, p.GetValue(output)!, p.GetValue(int8),
                    p.GetValue(calibration), p.GetValue(overwrite), p.GetValue(name), runtime: p.GetValue(runtime));
                needs = exporter.Requirement;
                return path;
            });
            long bytes = File.Exists(written) ? new FileInfo(written).Length : new FileInfo(Path.Combine(written, "1",
                "model.onnx")).Length;
            Console.WriteLine(FormattableString.Invariant($"exported {(p.GetValue(int8) ? "int8" : "float32")} model ")
                + FormattableString.Invariant($"({bytes / 1048576.0:0.0} MB) -> {written}"));
            if (needs != null) Console.WriteLine($"runs in {needs.Describe()}");
            return 0;
        });
        return cmd;
    }
}
