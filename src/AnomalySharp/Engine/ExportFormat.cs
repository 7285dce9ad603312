namespace AnomalySharp.Engine;

/// <summary>export --format: what <see cref="ModelExporter"/> writes.</summary>
internal enum ExportFormat
{
    /// <summary>One self-contained .onnx file.</summary>
    Onnx,
    /// <summary>A Triton Inference Server model repository (NAME/1/model.onnx and NAME/config.pbtxt).</summary>
    Triton,
}
