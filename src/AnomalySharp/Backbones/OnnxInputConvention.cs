using System.Globalization;
using AnomalySharp.Configuration;
using static TorchSharp.torch;

namespace AnomalySharp.Backbones;

/// <summary>
/// How a user-supplied ONNX network wants its input: channel order, a scale for 0..1 pixels, and per-channel mean
/// and standard deviation (in the network's channel order, after scaling). ImageNet models exported from
/// torchvision: rgb, 1, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225] (the defaults).
/// </summary>
public sealed record OnnxInputConvention(ChannelOrder ChannelOrder, double Scale, double[] Mean, double[] Std)
{
    /// <summary>Reads model.backbone_channel_order, backbone_input_scale, backbone_mean and backbone_std.</summary>
    public static OnnxInputConvention FromConfig(Configuration.ConfigTree config)
    {
        var order = config.GetEnum<ChannelOrder>("model.backbone_channel_order");
        double scale = config.GetDouble("model.backbone_input_scale", 1e-9, 1e9);
        config.Note("model.backbone_mean", "three numbers, one per channel");
        config.Note("model.backbone_std", "three positive numbers, one per channel");
        double[] Three(string key)
        {
            var values = config.GetStringList(key).Select(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture,
                out double d)
                ? d : throw new AnomalySharpException($"config key '{key}': '{v}' is not a number")).ToArray();
            if (values.Length != 3) throw new AnomalySharpException($"config key '{key}': give three values, one per channel");
            return values;
        }
        var std = Three("model.backbone_std");
        if (std.Any(s => s <= 0)) throw new AnomalySharpException("config key 'model.backbone_std': values must be positive");
        return new OnnxInputConvention(order, scale, Three("model.backbone_mean"), std);
    }

    /// <summary>RGB 0..1 images [B,3,H,W] → the network's input.</summary>
    public Tensor Apply(Tensor rgb)
    {
        using var scope = NewDisposeScope();
        var x = ChannelOrder == ChannelOrder.Bgr ? rgb.flip(1) : rgb;
        var mean = tensor(Mean.Select(v => (float)v).ToArray()).view(1, 3, 1, 1);
        var std = tensor(Std.Select(v => (float)v).ToArray()).view(1, 3, 1, 1);
        return ((x * (float)Scale - mean) / std).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override string ToString() => FormattableString.Invariant($"{ChannelOrder} x{Scale} mean [{string.Join(",", Mean)}] std ")
        + FormattableString.Invariant($"[{string.Join(",", Std)}]");
}
