using System.Diagnostics;

namespace AnomalySharp.Bench;

/// <summary>
/// `--burst MODEL.onnx`: the reliability burst of the test suite at bench scale. 16 and 48 concurrent hostile uploads
/// (header-inflated 6000² JPEG, 6300² PNG of zeros, 4000×3000 camera JPEG) against `anomalysharp serve` (the CLI built
/// beside this repository), with the server's memory before, at peak and after.
/// </summary>
public static class BurstBench
{
    public static async Task<int> Run(string model, int threads)
    {
        // ANOMALYSHARP_CLI names another build's AnomalySharp.Cli.dll (to compare versions side by side).
        string cli = Environment.GetEnvironmentVariable("ANOMALYSHARP_CLI") is { Length: > 0 } other ? other
            : Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "src", "AnomalySharp.Cli", "bin",
                "Release", "net10.0", "AnomalySharp.Cli.dll"));
        if (!File.Exists(cli))
        {
            Console.Error.WriteLine($"error: build the CLI first (dotnet build src/AnomalySharp.Cli -c Release): {cli}"); return 2;
        }
        byte[] small = BurstProbe.SmoothJpeg(64, 64), camera = BurstProbe.SmoothJpeg(4000, 3000), png = BurstProbe.ZeroPng(6300, 6300,
            allRows: true);
        Console.WriteLine($"# serve under a hostile burst — {Environment.ProcessorCount} cores, 2 sessions × "
            + $"{Math.Max(1, threads / 2)} threads, {Path.GetFileName(model)}");
        Console.WriteLine("| requests at once | answers | seconds | RSS before | peak RSS | RSS after (idle) |\n|---|---|---|---|---|---|");
        int[] sizes = Environment.GetEnvironmentVariable("ANOMALYSHARP_BURST_EACH") is { Length: > 0 } e ? new[] { int.Parse(e,
            System.Globalization.CultureInfo.InvariantCulture) } : new[] { 6, 16 };
        foreach (int each in sizes)
        {
            var serve = new ProcessStartInfo("dotnet");
            foreach (string a in new[] { cli, "serve", "--model", model, "--port", "0", "--sessions", "2", "--threads", Math.Max(1,
                threads / 2).ToString(System.Globalization.CultureInfo.InvariantCulture) })
                serve.ArgumentList.Add(a);
            var uploads = BurstProbe.HostileUploads(small, png, camera, each);
            var o = await BurstProbe.Run(serve, small, uploads, TimeSpan.FromSeconds(2));
            string answers = string.Join(", ", o.Statuses.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}×{kv.Value}"));
            Console.WriteLine($"| {uploads.Count} | {answers}{(o.BadAnswers.Count > 0 ? $", {o.BadAnswers.Count} without JSON" : "")} "
                + $"| {o.Seconds:0.0} | {o.BeforeMb:0} MB | {o.PeakMb:0} MB | {o.AfterMb:0} MB |");
        }
        return 0;
    }
}
