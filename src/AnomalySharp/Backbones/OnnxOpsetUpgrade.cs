using AnomalySharp.Runtime;
using Onnx;

namespace AnomalySharp.Backbones;

/// <summary>
/// Rewrites the nodes of a user's network written at an older opset (7–12) into the opset of the inference graph it
/// is copied into: the attributes later opsets removed are dropped where their meaning is the default
/// (BatchNormalization's spatial=1, is_test, consumed_inputs, Dropout's ratio at inference), and those that became
/// inputs (Clip's min/max, Pad's pads, Slice's starts/ends, the axes of Squeeze, Unsqueeze, ReduceSum and Split) are
/// passed as constants. An operator whose meaning changed otherwise is refused by name.
/// </summary>
internal static class OnnxOpsetUpgrade
{
    /// <summary>The oldest opset whose graphs are upgraded (numpy broadcasting arrived at 7).</summary>
    public const long Oldest = 7;

    /// <summary>Upgrades <paramref name="node"/> (a copy, changed in place) from <paramref name="opset"/>; constants go into <paramref
    /// name="g"/>.</summary>
    public static void Upgrade(NodeProto node, long opset, OnnxGraph g, string network)
    {
        if (opset >= OnnxGraph.Opset) return;
        Remove(node, "consumed_inputs", "is_test");
        switch (node.OpType)
        {
            case "BatchNormalization" when opset < 9:
                if (Take(node, "spatial") is { I: 0 }) throw Refuse(node, network,
                    "spatial=0 (per-activation statistics) has no later form");
                break;
            case "Dropout" when opset < 12:
                Take(node, "ratio");
                break;
            case "Clip" when opset < 11:
                var min = Take(node, "min");
                var max = Take(node, "max");
                SetInputs(node, min is null ? "" : g.Scalar(min.F), max is null ? "" : g.Scalar(max.F));
                break;
            case "Pad" when opset < 11:
                var pads = Take(node, "pads") ?? throw Refuse(node, network, "no pads");
                var value = Take(node, "value");
                SetInputs(node, g.Ints(pads.Ints.ToArray()), value is null ? "" : g.Scalar(value.F));
                break;
            case "Slice" when opset < 10:
                var starts = Take(node, "starts") ?? throw Refuse(node, network, "no starts");
                var ends = Take(node, "ends") ?? throw Refuse(node, network, "no ends");
                var sliceAxes = Take(node, "axes");
                SetInputs(node, g.Ints(starts.Ints.ToArray()), g.Ints(ends.Ints.ToArray()),
                    sliceAxes is null ? "" : g.Ints(sliceAxes.Ints.ToArray()));
                break;
            case "Squeeze" or "Unsqueeze" or "ReduceSum" when opset < 13:
                if (Take(node, "axes") is { } axes) SetInputs(node, g.Ints(axes.Ints.ToArray()));
                break;
            case "Split" when opset < 13:
                if (Take(node, "split") is { } split) SetInputs(node, g.Ints(split.Ints.ToArray()));
                break;
            case "Softmax" or "LogSoftmax" or "Hardmax" when opset < 13:
            case "Upsample" or "Scatter" or "TopK" when opset < 13:
                throw Refuse(node, network, "its meaning changed in later opsets");
        }
    }

    static AttributeProto? Take(NodeProto node, string name)
    {
        var a = node.Attribute.FirstOrDefault(x => x.Name == name);
        if (a != null) node.Attribute.Remove(a);
        return a;
    }

    static void Remove(NodeProto node, params string[] names)
    {
        foreach (string name in names) Take(node, name);
    }

    /// <summary>Appends inputs after the existing first one(s); trailing empty names are dropped.</summary>
    static void SetInputs(NodeProto node, params string[] extra)
    {
        var inputs = extra.ToList();
        while (inputs.Count > 0 && inputs[^1].Length == 0) inputs.RemoveAt(inputs.Count - 1);
        foreach (string i in inputs) node.Input.Add(i);
    }

    static AnomalySharpException Refuse(NodeProto node, string network, string why) =>
        new($"backbone {network}: cannot upgrade node '{node.Name}' ({node.OpType}) to opset {OnnxGraph.Opset}: {why}; convert the "
            + $"network (e.g. onnx.version_converter) and retry");
}
