using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using AnomalySharp.Runtime;
using AnomalySharp.Runtime.Browser;
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
/// 415, other methods on /predict 405 — each with a JSON message. A request's body is read first, in one of
/// <see cref="ServerOptions.Uploads"/> upload slots (503 when all are taken), at no less than a minimum rate and
/// within a deadline (408), so a slow client never holds a session; its work (decoding, the model) then runs inside a
/// <see cref="RequestGate"/> of one slot per ONNX Runtime session with a bounded queue behind it (503 with
/// Retry-After when full). Decoding is bounded by the model's input size, so memory is bounded whatever the clients
/// send; after a burst the server gives its memory back when idle. A stop waits at most
/// <see cref="ServerOptions.ShutdownTimeout"/> for requests in flight. No TorchSharp.
/// </summary>
public sealed class AnomalyServer : IAsyncDisposable
{
    readonly WebApplication _app;
    readonly OnnxAnomalyDetector _detector;
    readonly RequestGate _gate;
    readonly RequestGate _uploads;
    readonly TimeSpan _bodyTimeout;
    readonly UploadReader.Limits _limits;
    readonly Timer _trimmer;
    long _served, _rejected, _lastActivity;
    int _dirty;

    /// <summary>The address the server listens on (with the real port when 0 was asked for).</summary>
    public Uri Address { get; private set; } = new("http://127.0.0.1/");
    /// <summary>The model being served.</summary>
    public OnnxAnomalyDetector Detector => _detector;
    /// <summary>Intra-op threads of each session.</summary>
    public int ThreadsPerSession { get; }
    /// <summary>Why the sessions' threads oversubscribe the cores, when they do (see <see cref="ComputeThreads.PerSession"/>); else
    /// null.</summary>
    public string? ThreadWarning { get; }

    AnomalyServer(WebApplication app, OnnxAnomalyDetector detector, ServerOptions options, int threads, string? warning)
    {
        _app = app; _detector = detector; ThreadsPerSession = threads; ThreadWarning = warning;
        _gate = new RequestGate(options.Sessions, options.QueueLength);
        _uploads = new RequestGate(options.Uploads, 0);
        _bodyTimeout = options.BodyTimeout;
        _limits = new UploadReader.Limits(options.MaxRequestBytes);
        _trimmer = new Timer(_ => TrimWhenIdle(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    /// <summary>After a burst, once nothing has run for a second, returns the burst's memory to the system.</summary>
    void TrimWhenIdle()
    {
        if (Volatile.Read(ref _dirty) == 0 || _gate.Running > 0 || _gate.Waiting > 0) return;
        if (Environment.TickCount64 - Interlocked.Read(ref _lastActivity) < 1000) return;
        Interlocked.Exchange(ref _dirty, 0);
        MemoryTrim.Now();
    }

    /// <summary>Loads the model and starts listening.</summary>
    /// <exception cref="ModelLoadException">The model file is missing or not an AnomalySharp export.</exception>
    public static async Task<AnomalyServer> StartAsync(ServerOptions options, CancellationToken cancel = default)
    {
        options.Validate();
        var ip = IPAddress.Parse(options.Host);
        int threads = ComputeThreads.PerSession(options.Sessions, options.ThreadsPerSession, out string? warning);
        var detector = new OnnxAnomalyDetector(options.ModelPath, new DetectorOptions
        {
            Sessions = options.Sessions,
            ThreadsPerSession = threads, MaxPixels = options.MaxPixels
        });
        detector.WarmUp();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.Configure<Microsoft.Extensions.Hosting.HostOptions>(h => h.ShutdownTimeout = options.ShutdownTimeout);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(ip, options.Port);
            k.Limits.MaxRequestBodySize = options.MaxRequestBytes;
            k.Limits.MinRequestBodyDataRate = new Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate(options.MinUploadBytesPerSecond,
                TimeSpan.FromSeconds(5));
            k.AddServerHeader = false;
        });
        builder.Services.Configure<FormOptions>(f => { f.MultipartBodyLengthLimit = options.MaxRequestBytes; f.ValueCountLimit = 16; });
        var app = builder.Build();
        var server = new AnomalyServer(app, detector, options, threads, warning);
        app.MapGet("/", () => Results.Content(Page.Value, "text/html; charset=utf-8"));
        // The in-browser inspector: the page, its one-file copy, and onnxruntime-web's two files (read once, kept).
        app.MapGet("/local", () => Results.Content(LocalPage.Served("/local/ort/"), "text/html; charset=utf-8"));
        app.MapGet("/local/standalone.html", () => Results.File(Standalone.Value, "text/html; charset=utf-8", "anomalysharp-inspect.html"));
        app.MapGet("/local/ort/{name}", (string name) => name switch
        {
            LocalPage.ModuleName when OrtModule.Value is { } m => Results.Bytes(m, "text/javascript"),
            LocalPage.WasmName when OrtWasm.Value is { } w => Results.Bytes(w, "application/wasm"),
            _ => Results.NotFound(),
        });
        app.MapGet("/health", () => Results.Json(new JsonObject
        {
            ["status"] = "ok", ["model"] = detector.ModelName,
            ["image_size"] = detector.ImageHeight == detector.ImageWidth ? detector.ImageSize : new JsonArray(detector.ImageHeight,
                    detector.ImageWidth), ["sessions"] = detector.Sessions,
            ["threads_per_session"] = threads,
            ["served"] = Interlocked.Read(ref server._served), ["rejected"] = Interlocked.Read(ref server._rejected),
            ["running"] = server._gate.Running, ["waiting"] = server._gate.Waiting, ["uploading"] = server._uploads.Running,
        }));
        app.MapPost("/predict", (Func<HttpContext, Task<IResult>>)(http => server.PredictAsync(http)));
        app.MapMethods("/predict", new[] { "GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS" }, (Func<HttpContext, IResult>)(http =>
        {
            http.Response.Headers.Allow = "POST";
            return server.Error(StatusCodes.Status405MethodNotAllowed,
                $"{http.Request.Method} is not allowed on /predict: POST a multipart form with the image in field 'image'");
        }));
        try { await app.StartAsync(cancel); }
        catch (IOException e)
        {
            detector.Dispose(); throw new ArgumentException($"cannot listen on {options.Host}:{options.Port} ({e.Message})", e);
        }
        string bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Address = new Uri(bound.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        return server;
    }

    static readonly Lazy<byte[]?> OrtModule = new(() => LocalPage.Asset(LocalPage.ModuleName));
    static readonly Lazy<byte[]?> OrtWasm = new(() => LocalPage.Asset(LocalPage.WasmName));
    static readonly Lazy<byte[]> Standalone = new(LocalPage.Standalone);

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
        if (!(request.ContentType ?? "").StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase))
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
        Interlocked.Exchange(ref _dirty, 1);
        // The body first, in an upload slot of its own: a slow client holds that, never a session.
        using var upload = await _uploads.EnterAsync(http.RequestAborted);
        if (upload == null)
        {
            http.Response.Headers.RetryAfter = "1";
            return Error(StatusCodes.Status503ServiceUnavailable, $"busy: {_uploads.Running} uploads arriving; retry shortly");
        }
        UploadReader.Result read;
        using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted))
        {
            deadline.CancelAfter(_bodyTimeout);
            try { read = await UploadReader.ReadAsync(request.ContentType, request.Body, _limits, deadline.Token); }
            catch (OperationCanceledException) when (!http.RequestAborted.IsCancellationRequested)
            {
                http.Response.Headers.Connection = "close";
                return Error(StatusCodes.Status408RequestTimeout,
                    $"the request body did not arrive within {_bodyTimeout.TotalSeconds:0.#} s");
            }
            catch (Exception e) when (e is BadHttpRequestException or IOException or OperationCanceledException)
            {
                // Kestrel cut a body slower than the minimum rate, or the client went away.
                return Error(StatusCodes.Status408RequestTimeout, $"the request body arrived too slowly ({e.Message.Split('\n')[0]})");
            }
        }
        if (read is UploadReader.Rejection rejection) return Error(rejection.Status, rejection.Message);
        upload.Dispose();
        IDisposable? slot;
        try { slot = await _gate.EnterAsync(http.RequestAborted); }
        catch (OperationCanceledException) { return Error(StatusCodes.Status400BadRequest, "the client went away while queued"); }
        if (slot == null)
        {
            http.Response.Headers.RetryAfter = "1";
            return Error(StatusCodes.Status503ServiceUnavailable,
                $"busy: {_gate.Running} requests running and {_gate.Waiting} queued; retry shortly");
        }
        try { return Score(http, (UploadReader.Upload)read); }
        finally
        {
            Interlocked.Exchange(ref _lastActivity, Environment.TickCount64);
            slot.Dispose();
        }
    }

    IResult Score(HttpContext http, UploadReader.Upload file)
    {
        var request = http.Request;
        bool overlay = string.Equals(request.Query["overlay"], "true", StringComparison.OrdinalIgnoreCase);
        var clock = Stopwatch.StartNew();
        AnomalyPrediction result;
        try { result = _detector.Predict(file.Bytes, file.Name, masks: true, overlays: overlay); }
        catch (ImageDecodeException e)
        {
            return Error(e.Problem == ImageProblem.TooLarge ? StatusCodes.Status413PayloadTooLarge : StatusCodes.Status400BadRequest,
            e.Message);
        }
        Interlocked.Increment(ref _served);
        var json = new JsonObject
        {
            ["model"] = _detector.ModelName,
            ["score"] = Math.Round(result.Score, 6),
            ["label"] = result.IsAnomalous ? "anomalous" : "normal",
            ["is_anomalous"] = result.IsAnomalous,
            ["threshold"] = result.Threshold,
            ["width"] = result.SourceWidth,
            ["height"] = result.SourceHeight,
            ["mask_width"] = result.Width,
            ["mask_height"] = result.Height,
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
        await _trimmer.DisposeAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _detector.Dispose();
        _gate.Dispose();
        _uploads.Dispose();
    }
}
