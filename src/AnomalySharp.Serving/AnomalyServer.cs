using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using AnomalySharp.Runtime;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AnomalySharp.Serving;

/// <summary>
/// The HTTP service: <c>POST /predict</c> (multipart form with an image file) → JSON with score, label, threshold,
/// the mask as base64 PNG and, with <c>?overlay=true</c>, the heat-map overlay; <c>GET /health</c>; <c>GET /</c>, a
/// page to drop an image on. Requests over the size limit get 413, non-images and bad forms 400, other content types
/// 415 — each with a JSON message; concurrent requests share a pool of ONNX Runtime sessions. No TorchSharp.
/// </summary>
public sealed class AnomalyServer : IAsyncDisposable
{
    readonly WebApplication _app;
    readonly OnnxAnomalyDetector _detector;
    long _served, _rejected;

    /// <summary>The address the server listens on (with the real port when 0 was asked for).</summary>
    public Uri Address { get; private set; } = new("http://127.0.0.1/");
    /// <summary>The model being served.</summary>
    public OnnxAnomalyDetector Detector => _detector;

    AnomalyServer(WebApplication app, OnnxAnomalyDetector detector) { _app = app; _detector = detector; }

    /// <summary>Loads the model and starts listening.</summary>
    /// <exception cref="ModelLoadException">The model file is missing or not an AnomalySharp export.</exception>
    public static async Task<AnomalyServer> StartAsync(ServerOptions options, CancellationToken cancel = default)
    {
        if (!IPAddress.TryParse(options.Host, out var ip)) throw new ArgumentException($"--host: '{options.Host}' is not an IP address");
        if (options.Port is < 0 or > 65535) throw new ArgumentException($"--port: {options.Port} is not a port number");
        int threads = options.ThreadsPerSession > 0 ? options.ThreadsPerSession : Math.Max(1, Environment.ProcessorCount / Math.Max(1, options.Sessions));
        var detector = new OnnxAnomalyDetector(options.ModelPath, new DetectorOptions { Sessions = options.Sessions, ThreadsPerSession = threads, MaxPixels = options.MaxPixels });
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(ip, options.Port);
            k.Limits.MaxRequestBodySize = options.MaxRequestBytes;
            k.AddServerHeader = false;
        });
        builder.Services.Configure<FormOptions>(f => { f.MultipartBodyLengthLimit = options.MaxRequestBytes; f.ValueCountLimit = 16; });
        var app = builder.Build();
        var server = new AnomalyServer(app, detector);
        app.MapGet("/", () => Results.Content(Page.Value, "text/html; charset=utf-8"));
        app.MapGet("/health", () => Results.Json(new JsonObject
        {
            ["status"] = "ok", ["model"] = detector.ModelName, ["image_size"] = detector.ImageSize, ["sessions"] = detector.Sessions,
            ["served"] = Interlocked.Read(ref server._served), ["rejected"] = Interlocked.Read(ref server._rejected),
        }));
        app.MapPost("/predict", (Func<HttpContext, Task<IResult>>)(http => server.PredictAsync(http)));
        try { await app.StartAsync(cancel); }
        catch (IOException e) { detector.Dispose(); throw new ArgumentException($"cannot listen on {options.Host}:{options.Port} ({e.Message})", e); }
        string bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Address = new Uri(bound.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        return server;
    }

    static readonly Lazy<string> Page = new(() =>
    {
        using var stream = typeof(AnomalyServer).Assembly.GetManifestResourceStream("AnomalySharp.Serving.index.html")!;
        return new StreamReader(stream).ReadToEnd();
    });

    IResult Error(int status, string message)
    {
        Interlocked.Increment(ref _rejected);
        return Results.Json(new JsonObject { ["error"] = message }, statusCode: status);
    }

    async Task<IResult> PredictAsync(HttpContext http)
    {
        var request = http.Request;
        if (!request.HasFormContentType || !(request.ContentType ?? "").StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase))
            return Error(StatusCodes.Status415UnsupportedMediaType, "send the image as multipart/form-data (field 'image')");
        var sizeFeature = http.Features.Get<IHttpMaxRequestBodySizeFeature>();
        long limit = sizeFeature?.MaxRequestBodySize ?? long.MaxValue;
        if (request.ContentLength is long declared && declared > limit)
        {
            // A moderately oversized upload is read and discarded (never stored), so the client gets its 413 instead
            // of a reset connection; a huge one is answered at once and the connection closed.
            if (sizeFeature is { IsReadOnly: false } && declared <= 4 * limit)
            {
                sizeFeature.MaxRequestBodySize = declared;
                var sink = new byte[81920];
                while (await request.Body.ReadAsync(sink, http.RequestAborted) > 0) { }
            }
            else http.Response.Headers.Connection = "close";
            return Error(StatusCodes.Status413PayloadTooLarge, $"request of {declared} bytes is over the limit of {limit}");
        }
        IFormCollection form;
        try { form = await request.ReadFormAsync(http.RequestAborted); }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        { return Error(StatusCodes.Status413PayloadTooLarge, "request body is over the size limit"); }
        catch (InvalidDataException e) when (e.Message.Contains("limit", StringComparison.OrdinalIgnoreCase))
        { return Error(StatusCodes.Status413PayloadTooLarge, "request body is over the size limit"); }
        catch (Exception e) when (e is InvalidDataException or BadHttpRequestException or IOException)
        { return Error(StatusCodes.Status400BadRequest, $"malformed multipart form ({e.Message})"); }
        var file = form.Files.GetFile("image") ?? form.Files.FirstOrDefault();
        if (file is null) return Error(StatusCodes.Status400BadRequest, "no file in the form (send the image in field 'image')");
        if (file.Length == 0) return Error(StatusCodes.Status400BadRequest, $"{file.FileName}: empty file");
        bool overlay = string.Equals(request.Query["overlay"], "true", StringComparison.OrdinalIgnoreCase);
        byte[] bytes;
        using (var ms = new MemoryStream((int)file.Length))
        {
            await file.CopyToAsync(ms, http.RequestAborted);
            bytes = ms.ToArray();
        }
        var clock = Stopwatch.StartNew();
        AnomalyPrediction result;
        try { result = _detector.Predict(bytes, string.IsNullOrEmpty(file.FileName) ? "upload" : Path.GetFileName(file.FileName), masks: true, overlays: overlay); }
        catch (ImageDecodeException e)
        { return Error(e.Problem == ImageProblem.TooLarge ? StatusCodes.Status413PayloadTooLarge : StatusCodes.Status400BadRequest, e.Message); }
        Interlocked.Increment(ref _served);
        var json = new JsonObject
        {
            ["model"] = _detector.ModelName,
            ["score"] = Math.Round(result.Score, 6),
            ["label"] = result.IsAnomalous ? "anomalous" : "normal",
            ["is_anomalous"] = result.IsAnomalous,
            ["threshold"] = result.Threshold,
            ["width"] = result.Width,
            ["height"] = result.Height,
            ["mask_png"] = Convert.ToBase64String(result.MaskPng!),
            ["inference_ms"] = Math.Round(clock.Elapsed.TotalMilliseconds, 2),
        };
        if (overlay) json["overlay_png"] = Convert.ToBase64String(result.OverlayPng!);
        return Results.Json(json);
    }

    /// <summary>Runs until <paramref name="cancel"/> fires or the host is asked to stop (Ctrl-C or SIGTERM).</summary>
    public async Task WaitAsync(CancellationToken cancel)
    {
        var stopping = _app.Services.GetRequiredService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>().ApplicationStopping;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancel, stopping);
        try { await Task.Delay(Timeout.Infinite, linked.Token); } catch (OperationCanceledException) { }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _detector.Dispose();
    }
}
