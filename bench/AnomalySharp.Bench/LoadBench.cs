using System.Diagnostics;
using System.Net.Http.Headers;
using AnomalySharp.Data;
using AnomalySharp.Diagnostics;
using AnomalySharp.Serving;

/// <summary>
/// A bounded load test of `serve` (issue #5): the real server on a loopback port, several concurrent clients, a fixed
/// number of requests; requests/s, p50/p99 latency, errors, resident memory before and after.
/// </summary>
internal static class LoadBench
{
    public static async Task Run(string onnx, MvtecDataset ds, int clients, int requests, int sessions)
    {
        var files = ds.Test.Take(32).Select(s => (Name: Path.GetFileName(s.ImagePath), Bytes: File.ReadAllBytes(s.ImagePath))).ToList();
        await using var server = await AnomalyServer.StartAsync(new ServerOptions { ModelPath = onnx, Port = 0, Sessions = sessions });
        using var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(2) };
        async Task<(bool Ok, double Ms)> One(int i)
        {
            var (name, bytes) = files[i % files.Count];
            using var form = new MultipartFormDataContent();
            var file = new ByteArrayContent(bytes);
            file.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
            form.Add(file, "image", name);
            var sw = Stopwatch.StartNew();
            using var response = await http.PostAsync("predict", form);
            await response.Content.ReadAsByteArrayAsync();
            return (response.IsSuccessStatusCode, sw.Elapsed.TotalMilliseconds);
        }
        for (int i = 0; i < 8; i++) await One(i); // warm-up
        double before = MemoryMonitor.CurrentResidentMb();
        int next = -1;
        var latencies = new List<double>();
        int errors = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < requests)
            {
                var (ok, ms) = await One(i);
                lock (latencies) { latencies.Add(ms); if (!ok) errors++; }
            }
        }));
        double seconds = clock.Elapsed.TotalSeconds;
        double after = MemoryMonitor.CurrentResidentMb();
        latencies.Sort();
        double P(double q) => latencies[Math.Min(latencies.Count - 1, (int)(q * latencies.Count))];
        Console.WriteLine();
        Console.WriteLine($"| load test: {requests} POST /predict, {clients} concurrent clients, {sessions} sessions, 127.0.0.1 | "
            + $"figure |");
        Console.WriteLine("|---|---|");
        Console.WriteLine($"| throughput | {requests / seconds:0.0} requests/s |");
        Console.WriteLine($"| latency p50 / p99 | {P(0.5):0} ms / {P(0.99):0} ms |");
        Console.WriteLine($"| errors | {errors} |");
        Console.WriteLine($"| resident memory before / after | {before:0} MiB / {after:0} MiB |");
    }
}
