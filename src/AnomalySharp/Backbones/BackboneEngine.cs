namespace AnomalySharp.Backbones;

/// <summary>model.backbone_engine: what runs the packaged ResNet18 during a fit.</summary>
public enum BackboneEngine
{
    /// <summary>ONNX Runtime: the fast default, the same network the exported graph holds.</summary>
    Onnxruntime,
    /// <summary>The TorchSharp rebuild of the network.</summary>
    Torch,
}
