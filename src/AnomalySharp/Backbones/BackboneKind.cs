namespace AnomalySharp.Backbones;

/// <summary>model.backbone: which frozen network a model taps.</summary>
internal enum BackboneKind
{
    /// <summary>The packaged ImageNet ResNet18.</summary>
    Resnet18,
    /// <summary>Any network the user supplies in model.backbone_path.</summary>
    Onnx,
}
