using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;

namespace AnomalySharp.Bench;

/// <summary>
/// A burst of concurrent hostile uploads against a real `anomalysharp serve` child process: each request's status and
/// JSON body, the server's resident memory before the burst (after warm-up), its peak (VmHWM) and after the burst
/// once idle, and /health afterwards. Shared by the reliability test and the bench (`--burst`).
/// </summary>
public static class BurstProbe
{
    /// <summary>What the burst did.</summary>
    public sealed record Outcome(double BeforeMb, double PeakMb, double AfterMb, Dictionary<int, int> Statuses, List<string> BadAnswers,
        bool HealthOk, double Seconds);

    /// <summary>Starts an `anomalysharp serve` child; its address completes when stdout announces "on http://HOST:PORT".</summary>
    public static (Process Server, Task<Uri> Address) StartServe(ProcessStartInfo serve)
    {
        serve.RedirectStandardOutput = true;
        serve.RedirectStandardError = true;
        serve.UseShellExecute = false;
        var server = Process.Start(serve)!;
        var address = new TaskCompletionSource<Uri>();
        server.OutputDataReceived += (_, e) =>
        {
            int at = e.Data?.IndexOf(" on http://", StringComparison.Ordinal) ?? -1;
            if (at >= 0) address.TrySetResult(new Uri(e.Data![(at + 4)..].Split(' ')[0]));
        };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        return (server, address.Task);
    }

    /// <summary>
    /// Starts the server from <paramref name="serve"/> (its stdout must announce "on http://HOST:PORT"), warms it up with
    /// <paramref name="warmup"/> and one pass of <paramref name="burst"/>, lets it go idle, sends every upload of the burst at
    /// once, and measures.
    /// </summary>
    public static async Task<Outcome> Run(ProcessStartInfo serve, byte[] warmup, IReadOnlyList<(string Name, byte[] Bytes)> burst,
        TimeSpan settle)
    {
        var (server, address) = StartServe(serve);
        using var _ = server;
        try
        {
            var baseUri = await address.WaitAsync(TimeSpan.FromSeconds(60));
            using var http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromMinutes(2) };
            // Warm-up: the same burst once, then idle, so what is compiled, initialised or grown once for good (code paths,
            // codecs, thread-pool threads, a session arena per concurrent session) counts in the resting size; what the
            // measured burst then keeps on top of it is what it retained.
            for (int i = 0; i < 3; i++) await Post(http, "warmup.png", warmup);
            await Task.WhenAll(burst.Select(b => Post(http, b.Name, b.Bytes)));
            await Task.Delay(settle);
            double before = Rss(server.Id, "VmRSS:");
            var clock = Stopwatch.StartNew();
            var answers = await Task.WhenAll(burst.Select(b => Post(http, b.Name, b.Bytes)));
            double seconds = clock.Elapsed.TotalSeconds;
            var health = JsonNode.Parse(await http.GetStringAsync("health"))!;
            double peak = Rss(server.Id, "VmHWM:");
            // Memory goes back once the server is idle: wait for it (bounded).
            double after = Rss(server.Id, "VmRSS:");
            for (var wait = Stopwatch.StartNew(); wait.Elapsed < settle + TimeSpan.FromSeconds(10)
                && after > before * 1.2; after = Rss(server.Id, "VmRSS:"))
                await Task.Delay(250);
            var statuses = answers.GroupBy(a => a.Status).ToDictionary(g => g.Key, g => g.Count());
            var bad = answers.Where(a => a.Body == null || (a.Body["score"] == null && a.Body["error"] == null)).Select(a
                => $"{a.Status}: {a.Text}").ToList();
            return new Outcome(before, peak, after, statuses, bad, (string?)health["status"] == "ok", seconds);
        }
        finally
        {
            if (!server.HasExited) { server.Kill(true); server.WaitForExit(); }
        }
    }

    static async Task<(int Status, JsonObject? Body, string Text)> Post(HttpClient http, string name, byte[] bytes)
    {
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "image", name);
        using var response = await http.PostAsync("predict", form);
        string text = await response.Content.ReadAsStringAsync();
        JsonObject? body = null;
        try { body = JsonNode.Parse(text) as JsonObject; } catch (System.Text.Json.JsonException) { }
        return ((int)response.StatusCode, body, text.Length > 200 ? text[..200] : text);
    }

    /// <summary>A line of /proc/PID/status in MiB (VmRSS: now, VmHWM: peak).</summary>
    public static double Rss(int pid, string key)
    {
        string line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(key, StringComparison.Ordinal));
        return long.Parse(line[key.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
    }

    /// <summary>
    /// The hostile uploads of the reliability test: JPEGs whose header declares 6000×6000 over 64×64 of data, PNGs that
    /// declare 6300×6300 (a valid zlib stream of zeros), and real 4000×3000 camera-size JPEGs that decode at a reduced scale.
    /// </summary>
    public static List<(string Name, byte[] Bytes)> HostileUploads(byte[] smallJpeg, byte[] hugePng, byte[] cameraJpeg, int each)
    {
        byte[] inflated = (byte[])smallJpeg.Clone();
        int sof = inflated.AsSpan().IndexOf(new byte[] { 0xFF, 0xC0 });
        if (sof < 0) throw new ArgumentException("not a baseline JPEG", nameof(smallJpeg));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(inflated.AsSpan(sof + 5), 6000);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(inflated.AsSpan(sof + 7), 6000);
        var list = new List<(string, byte[])>();
        for (int i = 0; i < each; i++)
        {
            list.Add(($"inflated-{i}.jpg", inflated));
            list.Add(($"inflated-{i}.png", hugePng));
            list.Add(($"camera-{i}.jpg", cameraJpeg));
        }
        return list;
    }

    /// <summary>
    /// An 8-bit grayscale PNG whose header declares <paramref name="w"/>×<paramref name="h"/> pixels of zeros: with
    /// <paramref name="allRows"/> a valid image (zlib squeezes 40 megapixels of zeros into ~40 KB), else only 64 rows of data.
    /// </summary>
    public static byte[] ZeroPng(int w, int h, bool allRows = false)
    {
        var z = new MemoryStream();
        using (var zs = new System.IO.Compression.ZLibStream(z, System.IO.Compression.CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var row = new byte[w + 1];
            // 64 rows are enough for the header check (the rest would be "truncated"); all rows make a valid image of zeros.
            for (int y = 0; y < (allRows ? h : Math.Min(h, 64)); y++) zs.Write(row);
        }
        using var png = new MemoryStream();
        png.Write(new byte[] { 137, 80, 78, 71, 13, 10, 26, 10 });
        var ihdr = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr,
            w); System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), h);
        ihdr[8] = 8; ihdr[9] = 0;
        PngChunk(png, "IHDR", ihdr); PngChunk(png, "IDAT", z.ToArray()); PngChunk(png, "IEND", Array.Empty<byte>());
        return png.ToArray();
    }

    public static void PngChunk(Stream s, string type, byte[] data)
    {
        var len = new byte[4]; System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(len, data.Length); s.Write(len);
        var td = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        s.Write(td);
        var crc = new byte[4]; System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(td)); s.Write(crc);
    }

    static uint Crc32(byte[] data)
    {
        uint crc = 0xffffffff;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xedb88320u : crc >> 1;
        }
        return ~crc;
    }

    /// <summary>A smooth gradient JPEG (written through the pixel buffer: SetPixel would take seconds at camera sizes).</summary>
    public static byte[] SmoothJpeg(int w, int h)
    {
        using var bitmap = new SkiaSharp.SKBitmap(new SkiaSharp.SKImageInfo(w, h, SkiaSharp.SKColorType.Rgba8888,
            SkiaSharp.SKAlphaType.Opaque));
        var pixels = bitmap.GetPixelSpan();
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int i = (y * w + x) * 4;
                pixels[i] = (byte)(x * 255 / w); pixels[i + 1] = (byte)(y * 255 / h); pixels[i + 2] = 90; pixels[i + 3] = 255;
            }
        using var image = SkiaSharp.SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SkiaSharp.SKEncodedImageFormat.Jpeg, 90);
        return data.ToArray();
    }
}
