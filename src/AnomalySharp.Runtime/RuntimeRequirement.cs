using System.Globalization;
using Onnx;
using Version = System.Version;

namespace AnomalySharp.Runtime;

/// <summary>
/// The oldest ONNX Runtime release that can load a model, read from what the file declares: its IR version and the
/// opset of each operator domain it imports. ONNX Runtime's version matrix (docs/Versioning.md of onnxruntime) gives,
/// per release, the newest IR version and default-domain and ai.onnx.ml opsets it implements; a release runs every
/// file at or below those. Operators of the com.microsoft domain exist in ONNX Runtime only; any other domain needs
/// custom operators that no stock runtime has.
/// </summary>
public sealed record RuntimeRequirement(Version Oldest, long IrVersion, long Opset, IReadOnlyList<string> OnnxRuntimeOnlyDomains,
    IReadOnlyList<string> CustomDomains)
{
    /// <summary>The oldest ONNX Runtime this project's tests run every export in (onnxruntime-node 1.17.3).</summary>
    public static readonly Version OldestTested = new(1, 17, 3);

    /// <summary>Releases (oldest first) with the newest IR version, opset and ai.onnx.ml opset each implements.</summary>
    static readonly (Version Release, long Ir, long Opset, long MlOpset)[] Releases =
    {
        (new(1, 0), 6, 11, 2), (new(1, 3), 6, 12, 2), (new(1, 6), 7, 13, 2), (new(1, 8), 7, 14, 2),
        (new(1, 10), 8, 15, 2), (new(1, 11), 8, 16, 2), (new(1, 12), 8, 17, 3), (new(1, 14), 8, 18, 3),
        (new(1, 15), 9, 19, 3), (new(1, 17), 9, 20, 4), (new(1, 18), 10, 21, 5), (new(1, 21), 10, 22, 5),
        (new(1, 23), 11, 23, 5),
    };

    /// <summary>What <paramref name="model"/> needs.</summary>
    public static RuntimeRequirement Of(ModelProto model)
    {
        long opset = 0, ml = 0;
        var ortOnly = new List<string>();
        var custom = new List<string>();
        foreach (var import in model.OpsetImport)
        {
            switch (import.Domain)
            {
                case "" or "ai.onnx": opset = Math.Max(opset, import.Version); break;
                case "ai.onnx.ml": ml = Math.Max(ml, import.Version); break;
                case "com.microsoft" or "com.microsoft.nchwc" or "com.ms.internal.nhwc": ortOnly.Add(import.Domain); break;
                default: custom.Add(import.Domain); break;
            }
        }
        foreach (var release in Releases)
            if (model.IrVersion <= release.Ir && opset <= release.Opset && ml <= release.MlOpset)
                return new RuntimeRequirement(release.Release, model.IrVersion, opset, ortOnly, custom);
        // Newer than any release known here: state the newest known, which is a floor, not a promise.
        return new RuntimeRequirement(Releases[^1].Release, model.IrVersion, opset, ortOnly, custom);
    }

    /// <summary>Whether ONNX Runtime <paramref name="release"/> can load the file (ignoring custom domains, which none can).</summary>
    public bool RunsIn(Version release) => CustomDomains.Count == 0 && Compare(release, Oldest) >= 0;

    /// <summary>"1.12" style: major.minor, the granularity of the version matrix.</summary>
    public string OldestText => Oldest.ToString(2);

    /// <summary>One line for the user: "ONNX Runtime 1.12 or later (IR 8, opset 17)", and what else it needs.</summary>
    public string Describe()
    {
        string text = string.Create(CultureInfo.InvariantCulture, $"ONNX Runtime {OldestText} or later (IR {IrVersion}, opset {Opset})");
        if (OnnxRuntimeOnlyDomains.Count > 0) text += $"; operators of {string.Join(", ", OnnxRuntimeOnlyDomains)} run in ONNX "
            + $"Runtime only";
        if (CustomDomains.Count > 0) text += $"; custom operators of {string.Join(", ", CustomDomains)} that no stock runtime has";
        return text;
    }

    /// <summary>Parses "1.16", "1.16.3" or "v1.16"; null when it is not a version.</summary>
    public static Version? ParseRelease(string text)
    {
        string t = text.Trim().TrimStart('v', 'V');
        return Version.TryParse(t.Contains('.') ? t : t + ".0", out var v) && v.Major >= 0 ? v : null;
    }

    /// <summary>Compares on major and minor only (the matrix's granularity): 1.17.3 runs what 1.17 runs.</summary>
    static int Compare(Version a, Version b) => a.Major != b.Major ? a.Major.CompareTo(b.Major) : a.Minor.CompareTo(b.Minor);
}
