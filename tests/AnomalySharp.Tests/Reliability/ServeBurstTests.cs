using System.Diagnostics;
using AnomalySharp.Bench;
using AnomalySharp.Tests.Data;
using AnomalySharp.Tests.Export;

namespace AnomalySharp.Tests.Reliability;

/// <summary>
/// A real `serve` process under 24 concurrent uploads, 16 of them header-inflated (JPEG and PNG of 6000–6300 px squares),
/// and 8 camera-size JPEGs: every request answered with JSON (200, 4xx or 503), peak resident memory under 1.5 GB,
/// /health fine afterwards, and memory back within 20% of its pre-burst size once idle.
/// </summary>
[Collection(IsolatedCollection.Name)]
[Trait(IsolatedCollection.Trait, IsolatedCollection.Value)]
public class ServeBurstTests
{
    [Fact]
    public async Task AHostileBurstIsAnsweredWithinBoundedMemory()
    {
        var uploads = BurstProbe.HostileUploads(BurstProbe.SmoothJpeg(64, 64), TestImages.HugePng(6300, 6300, allRows: true),
            BurstProbe.SmoothJpeg(4000, 3000), each: 8);

        var serve = new ProcessStartInfo("dotnet");
        foreach (string a in new[] { Path.Combine(AppContext.BaseDirectory, "AnomalySharp.Cli.dll"), "serve", "--model",
            ExportedSynthetic.Onnx,
                     "--port", "0", "--sessions", "2", "--threads", "1" })
            serve.ArgumentList.Add(a);
        var outcome = await BurstProbe.Run(serve, File.ReadAllBytes(ExportedSynthetic.Images.Good), uploads, TimeSpan.FromSeconds(2));

        string summary = $"before {outcome.BeforeMb:0} MB, peak {outcome.PeakMb:0} MB, after {outcome.AfterMb:0} MB, statuses "
            + string.Join(", ", outcome.Statuses.Select(kv => $"{kv.Key}×{kv.Value}"));
        Assert.True(outcome.BadAnswers.Count == 0, "answers without a JSON score or error: " + string.Join("; ", outcome.BadAnswers));
        Assert.Equal(uploads.Count, outcome.Statuses.Values.Sum());
        Assert.All(outcome.Statuses.Keys, s => Assert.True(s is 200 or 503 || s is >= 400 and < 500, summary));
        Assert.Equal(8, outcome.Statuses.GetValueOrDefault(200)); // the camera images, decoded at 1/4 scale
        Assert.True(outcome.HealthOk, summary);
        Assert.True(outcome.PeakMb < 1536, summary);
        Assert.True(outcome.AfterMb <= outcome.BeforeMb * 1.2, summary);
    }
}
