using System.Text;

namespace AnomalySharp.Runtime.Browser;

/// <summary>
/// A page that inspects images entirely in the browser: it loads an exported model with onnxruntime-web (WebAssembly,
/// built into this package at pack time from the npm registry, never fetched at run time), prepares each image with the
/// export's own preprocessing graph (anomalysharp.preprocess_onnx) and shows heat map, score and verdict. `serve` gives
/// it at /local with the runtime's files beside it; <see cref="Standalone"/> is one file with everything inside, to open
/// from disk.
/// </summary>
public static class LocalPage
{
    /// <summary>The onnxruntime-web release built in.</summary>
    public const string OrtWebVersion = "1.30.0";
    /// <summary>The runtime's ES module (its WebAssembly glue included).</summary>
    public const string ModuleName = "ort.wasm.bundle.min.mjs";
    /// <summary>The runtime's WebAssembly binary.</summary>
    public const string WasmName = "ort-wasm-simd-threaded.wasm";

    const string Placeholder = "/*ORT*/";

    /// <summary>Whether this build carries onnxruntime-web (a build without npm does not: the page then says so).</summary>
    public static bool Available => Asset(ModuleName) != null && Asset(WasmName) != null;

    /// <summary>The page, loading the runtime from <paramref name="assetBase"/> (a path ending in '/', e.g. "/local/ort/").</summary>
    public static string Served(string assetBase) => Template().Replace(Placeholder, Available
        ? $"const ort = await import('{assetBase}{ModuleName}'); // its WebAssembly glue is inside; the binary is beside it"
        : Missing, StringComparison.Ordinal);

    /// <summary>The page as one self-contained file (about 19 MB: the runtime's module and binary inside, base64).</summary>
    public static byte[] Standalone()
    {
        if (!Available) return Encoding.UTF8.GetBytes(Template().Replace(Placeholder, Missing, StringComparison.Ordinal));
        string script = $"""
            const ort = await import(URL.createObjectURL(new Blob(
                [atob('{Convert.ToBase64String(Asset(ModuleName)!)}')], {"{"} type: 'text/javascript' {"}"})));
            ort.env.wasm.wasmBinary = Uint8Array.from(atob('{Convert.ToBase64String(Asset(WasmName)!)}'), c => c.charCodeAt(0));
            """;
        return Encoding.UTF8.GetBytes(Template().Replace(Placeholder, script, StringComparison.Ordinal));
    }

    /// <summary>One of the runtime's two files (<see cref="ModuleName"/>, <see cref="WasmName"/>), or null.</summary>
    public static byte[]? Asset(string name)
    {
        if (name != ModuleName && name != WasmName) return null;
        using var stream = typeof(LocalPage).Assembly.GetManifestResourceStream("AnomalySharp.Runtime.Browser." + name);
        if (stream == null) return null;
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    const string Missing = "const ort = null; document.getElementById('status').textContent = 'this build of AnomalySharp.Runtime has "
        + "no onnxruntime-web (npm was missing when it was built)';";

    static string Template()
    {
        using var stream = typeof(LocalPage).Assembly.GetManifestResourceStream("AnomalySharp.Runtime.Browser.local.html")!;
        return new StreamReader(stream).ReadToEnd();
    }
}
