using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using AnomalySharp.Serving;
using AnomalySharp.Tests.Export;
using SkiaSharp;

namespace AnomalySharp.Tests.Serving;

/// <summary>The real HTTP server on a free loopback port, driven with HttpClient.</summary>
[Collection(IsolatedCollection.Name)]
[Trait(IsolatedCollection.Trait, IsolatedCollection.Value)]
public class ServerHttpTests
{
    static MultipartFormDataContent Form(byte[] bytes, string name, string field = "image")
    {
        var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, field, name);
        return form;
    }

    static async Task<(HttpStatusCode Status, JsonObject Body)> Post(HttpClient http, HttpContent content, string query = "")
    {
        using var response = await http.PostAsync("predict" + query, content);
        string text = await response.Content.ReadAsStringAsync();
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, JsonNode.Parse(text)!.AsObject());
    }

    [Fact]
    public async Task ScoresImagesAndRefusesBadRequestsWithClearMessages()
    {
        await using var server = await AnomalyServer.StartAsync(new ServerOptions
        {
            ModelPath = ExportedSynthetic.Onnx, Port = 0,
            MaxRequestBytes = 2 << 20
        });
        Assert.Equal("127.0.0.1", server.Address.Host);
        using var http = new HttpClient { BaseAddress = server.Address };

        var health = JsonNode.Parse(await http.GetStringAsync("health"))!;
        Assert.Equal("ok", (string)health["status"]!);
        Assert.Equal("padim", (string)health["model"]!);
        // Two sessions by default, sharing the cores between them rather than each taking them all.
        Assert.Equal(2, (int)health["sessions"]!);
        Assert.Equal(Math.Max(1, Environment.ProcessorCount / 2), (int)health["threads_per_session"]!);
        Assert.True(server.ThreadWarning == null || Environment.ProcessorCount < 2, server.ThreadWarning);

        var (defective, good) = ExportedSynthetic.Images;
        var (status, body) = await Post(http, Form(File.ReadAllBytes(defective), Path.GetFileName(defective)), "?overlay=true");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("anomalous", (string)body["label"]!);
        Assert.Equal(0.5, (double)body["threshold"]!);
        using (var mask = SKBitmap.Decode(Convert.FromBase64String((string)body["mask_png"]!)))
        using (var original = SKBitmap.Decode(defective))
        {
            Assert.Equal((original.Width, original.Height), (mask.Width, mask.Height));
            Assert.Contains(mask.Pixels, p => p.Red == 255); // the defect is marked
        }
        using (var overlay = SKBitmap.Decode(Convert.FromBase64String((string)body["overlay_png"]!))) Assert.Equal(128, overlay.Width);
        (status, body) = await Post(http, Form(File.ReadAllBytes(good), Path.GetFileName(good)));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("normal", (string)body["label"]!);
        Assert.Null(body["overlay_png"]);

        // Bad input: never a 500, always a JSON message.
        (status, body) = await Post(http, Form("hello, not an image"u8.ToArray(), "notes.txt"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("notes.txt: not a readable image", (string)body["error"]!);
        (status, body) = await Post(http, Form(AnomalySharp.Tests.Data.TestImages.HugePng(30000, 30000), "bomb.png"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Contains("too large", (string)body["error"]!);
        (status, body) = await Post(http, Form(new byte[3 << 20], "big.png"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        (status, body) = await Post(http, new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        var empty = new MultipartFormDataContent { { new StringContent("x"), "note" } };
        (status, body) = await Post(http, empty);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("no file", (string)body["error"]!);
        (status, _) = await Post(http, Form(File.ReadAllBytes(good).Take(300).ToArray(), "cut.png"));
        Assert.Equal(HttpStatusCode.BadRequest, status);

        var after = JsonNode.Parse(await http.GetStringAsync("health"))!;
        Assert.Equal(2, (long)after["served"]!);
        Assert.Equal(6, (long)after["rejected"]!);
    }

    [Fact]
    public async Task ConcurrentClientsGetTheSameAnswersAsOneByOne()
    {
        await using var server = await AnomalyServer.StartAsync(new ServerOptions
        {
            ModelPath = ExportedSynthetic.Onnx, Port = 0,
            Sessions = 2, ThreadsPerSession = 1
        });
        using var http = new HttpClient { BaseAddress = server.Address };
        var ds = AnomalySharp.Tests.Models.PadimTests.SmallSynthetic();
        var files = ds.Test.Take(8).Select(s => s.ImagePath).ToList();
        var sequential = new List<double>();
        foreach (string f in files) sequential.Add((double)(await Post(http, Form(File.ReadAllBytes(f),
            Path.GetFileName(f)))).Body["score"]!);
        var tasks = Enumerable.Range(0, 32).Select(async i =>
        {
            string f = files[i % files.Count];
            var (status, body) = await Post(http, Form(File.ReadAllBytes(f), Path.GetFileName(f)));
            Assert.Equal(HttpStatusCode.OK, status);
            return (i % files.Count, (double)body["score"]!);
        }).ToList();
        foreach (var (index, score) in await Task.WhenAll(tasks)) Assert.Equal(sequential[index], score, 5);
    }

    [Fact]
    public async Task OtherMethodsLongNamesAndAFullQueueGetJsonErrors()
    {
        await using var server = await AnomalyServer.StartAsync(new ServerOptions
        {
            ModelPath = ExportedSynthetic.Onnx, Port = 0,
            Sessions = 1, ThreadsPerSession = 1, QueueLength = 0, Uploads = 1
        });
        using var http = new HttpClient { BaseAddress = server.Address };
        foreach (var method in new[] { HttpMethod.Get, HttpMethod.Put, HttpMethod.Delete })
        {
            using var response = await http.SendAsync(new HttpRequestMessage(method, "predict"));
            Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
            Assert.Contains("POST", response.Content.Headers.Allow);
            Assert.Contains("not allowed on /predict", (string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!);
        }

        var (_, good) = ExportedSynthetic.Images;
        byte[] image = File.ReadAllBytes(good);
        string longName = new string('a', 5000) + ".png";
        var (status, body) = await Post(http, Form(image, longName));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        string error = (string)body["error"]!;
        Assert.Contains("file name of 5004 characters is over the limit of 255", error);
        Assert.True(error.Length < 200, error);

        // One upload slot: while a slow upload holds it, another request gets 503 with Retry-After at once; the slow one
        // is answered when its body arrives. (A slow upload holds an upload slot, never a session.)
        var form = Form(image, "good.png");
        byte[] whole = await form.ReadAsByteArrayAsync();
        var release = new TaskCompletionSource();
        var slow = new SlowContent(whole[..(whole.Length / 2)], whole[(whole.Length / 2)..], release.Task);
        slow.Headers.ContentType = form.Headers.ContentType;
        var slowResponse = http.PostAsync("predict", slow);
        for (int i = 0; i < 100 && (int)JsonNode.Parse(await http.GetStringAsync("health"))!["uploading"]! == 0; i++) await Task.Delay(50);
        using (var busy = await http.PostAsync("predict", Form(image, "good.png")))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, busy.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(1), busy.Headers.RetryAfter?.Delta);
            Assert.Contains("busy", (string)JsonNode.Parse(await busy.Content.ReadAsStringAsync())!["error"]!);
        }
        release.SetResult();
        using (var done = await slowResponse) Assert.Equal(HttpStatusCode.OK, done.StatusCode);
    }

    /// <summary>A request body sent in two halves, the second only once released: a client that holds its slot.</summary>
    sealed class SlowContent(byte[] head, byte[] tail, Task release) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            await stream.WriteAsync(head);
            await stream.FlushAsync();
            await release;
            await stream.WriteAsync(tail);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = head.Length + tail.Length;
            return true;
        }
    }

    [Fact]
    public async Task AMissingModelIsAClearError()
    {
        var e = await Assert.ThrowsAsync<AnomalySharp.Runtime.ModelLoadException>(()
            => AnomalyServer.StartAsync(new ServerOptions { ModelPath = "/nonexistent/model.onnx", Port = 0 }));
        Assert.Contains("/nonexistent/model.onnx", e.Message);
    }

    /// <summary>A client that sends a request's headers and then trickles its body at 400 bytes/s.</summary>
    static async Task<string> SlowUpload(Uri server, CancellationToken stop)
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(server.Host, server.Port, stop);
        var stream = tcp.GetStream();
        byte[] head = System.Text.Encoding.ASCII.GetBytes("POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
            + "boundary=b\r\nContent-Length: 100000\r\n\r\n");
        await stream.WriteAsync(head, stop);
        var chunk = new byte[20];
        var answer = new byte[4096];
        var reading = stream.ReadAsync(answer, stop).AsTask();
        try
        {
            while (!reading.IsCompleted)
            {
                await stream.WriteAsync(chunk, stop);
                await Task.WhenAny(reading, Task.Delay(50, stop));
            }
            int n = await reading;
            return n == 0 ? "closed" : System.Text.Encoding.ASCII.GetString(answer, 0, n).Split('\r')[0];
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException) { return "closed"; }
    }

    [Fact]
    public async Task SlowUploadsHoldNoSessionAreCutOffAndDoNotDelayAStop()
    {
        // Issue 40 E: two clients at 400 bytes/s held both sessions while their bodies arrived; a normal POST waited 42 s,
        // 66 of them made every POST 503, and SIGTERM took 32 s.
        var server = await AnomalyServer.StartAsync(new ServerOptions
        {
            ModelPath = ExportedSynthetic.Onnx, Port = 0, Sessions = 1,
            QueueLength = 2, Uploads = 80
        });
        using var http = new HttpClient { BaseAddress = server.Address };
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var slow = Enumerable.Range(0, 66).Select(_ => SlowUpload(server.Address, stop.Token)).ToArray();
        await Task.Delay(1000);
        var (_, good) = ExportedSynthetic.Images;
        var (status, body) = await Post(http, Form(File.ReadAllBytes(good), Path.GetFileName(good)));
        Assert.True(status == HttpStatusCode.OK, body.ToJsonString());
        Assert.DoesNotContain(slow, t => t.IsCompleted); // answered while every slow client was still uploading
        // Slower than the minimum rate after its grace: each slow client is answered 408 or cut off, long before its body ends.
        string[] ends = await Task.WhenAll(slow);
        Assert.All(ends, e => Assert.True(e == "closed" || e.Contains(" 408 ", StringComparison.Ordinal) || e.Contains(" 400 ",
            StringComparison.Ordinal), e));
        Assert.False(stop.IsCancellationRequested, "the slow clients were not cut off within 60 s");

        // A stop with slow uploads in flight ends within docker's 10 s.
        using var stop2 = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var more = Enumerable.Range(0, 8).Select(_ => SlowUpload(server.Address, stop2.Token)).ToArray();
        await Task.Delay(500);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await server.DisposeAsync();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"stopping took {clock.Elapsed.TotalSeconds:0.0} s");
        await Task.WhenAll(more);
    }
}
