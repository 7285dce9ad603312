namespace AnomalySharp.Backbones;

/// <summary>model.backbone_channel_order: the channel order a user's ONNX network expects.</summary>
public enum ChannelOrder
{
    /// <summary>Red, green, blue (torchvision's models).</summary>
    Rgb,
    /// <summary>Blue, green, red (Caffe's and OpenCV's).</summary>
    Bgr,
}
