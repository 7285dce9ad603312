using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using AnomalySharp.Runtime;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace AnomalySharp.Workers;

/// <summary>
/// A long-running inspection worker: pulls frames from the frames stream through the durable consumer every worker
/// shares (each frame goes to one worker), scores each with the exported model for its subject, publishes the result
/// to <c>results.&lt;camera&gt;</c> (or, for a frame that is not a readable image, its reason to
/// <c>deadletter.&lt;camera&gt;</c>) with the frame id as JetStream's message id, and acknowledges the frame only
/// once the results stream has stored that message. A worker that dies before acknowledging leaves its frames to be
/// redelivered after the ack wait; a second result for the same frame is dropped by the stream's de-duplication.
/// It holds at most <see cref="WorkerOptions.Sessions"/> frames: one pull per free session, so a publisher faster
/// than the workers fills the stream, not the worker's memory.
/// </summary>
public sealed class InspectionWorker : IAsyncDisposable
{
    readonly WorkerOptions _options;
    readonly NatsConnection _connection;
    readonly NatsJSContext _js;
    readonly INatsJSConsumer _consumer;
    readonly ModelRouter _models;
    readonly Action<string> _log;
    readonly string _identity = $"{Environment.MachineName}:{Environment.ProcessId}";
    long _scored, _deadLettered, _duplicates, _handedBack, _lastPullWarning = long.MinValue / 2;

    /// <summary>Frames scored and stored.</summary>
    public long Scored => Interlocked.Read(ref _scored);
    /// <summary>Frames sent to the dead-letter subject.</summary>
    public long DeadLettered => Interlocked.Read(ref _deadLettered);
    /// <summary>Results the results stream already had (a frame redelivered after another worker stored its result).</summary>
    public long Duplicates => Interlocked.Read(ref _duplicates);
    /// <summary>Frames handed back for redelivery (a failure that may pass).</summary>
    public long HandedBack => Interlocked.Read(ref _handedBack);
    /// <summary>The models loaded.</summary>
    public ModelRouter Models => _models;

    InspectionWorker(WorkerOptions options, NatsConnection connection, INatsJSConsumer consumer, ModelRouter models, Action<string> log)
    {
        _options = options;
        _connection = connection;
        _js = new NatsJSContext(connection);
        _consumer = consumer;
        _models = models;
        _log = log;
    }

    /// <summary>Loads the models, connects, and creates the streams and the consumer when they are missing.</summary>
    /// <exception cref="ScaleOutException">NATS cannot be reached or the stream layout cannot be created.</exception>
    /// <exception cref="ModelLoadException">A model cannot be loaded.</exception>
    public static async Task<InspectionWorker> StartAsync(WorkerOptions options, Action<string>? log = null,
        CancellationToken cancellation = default)
    {
        options.Validate();
        int threads = options.ThreadsPerSession > 0 ? options.ThreadsPerSession : Math.Max(1,
            Environment.ProcessorCount / options.Sessions);
        var models = new ModelRouter(options, new DetectorOptions
        {
            Sessions = options.Sessions, ThreadsPerSession = threads,
            MaxFileBytes = options.Limits.MaxFrameBytes
        });
        try
        {
            foreach (var m in models.Models) m.Detector.WarmUp();
            var connection = await JetStreamLayout.ConnectAsync(options.Url,
                $"anomalysharp-worker {Environment.MachineName}:{Environment.ProcessId}", cancellation);
            try
            {
                var js = new NatsJSContext(connection);
                await JetStreamLayout.EnsureStreamsAsync(js, options.Limits, cancellation);
                var consumer = await JetStreamLayout.EnsureConsumerAsync(js, options.Limits, options.Durable, options.Subject,
                    cancellation);
                return new InspectionWorker(options, connection, consumer, models, log ?? (_ => { }));
            }
            catch
            {
                await connection.DisposeAsync();
                throw;
            }
        }
        catch
        {
            models.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Works until <paramref name="stop"/> is cancelled, then stops pulling, finishes the frames in hand, stores their
    /// results, acknowledges them, and returns.
    /// </summary>
    public async Task RunAsync(CancellationToken stop)
    {
        var loops = Enumerable.Range(0, _options.Sessions).Select(_ => Task.Run(() => LoopAsync(stop), CancellationToken.None)).ToArray();
        await Task.WhenAll(loops);
    }

    async Task LoopAsync(CancellationToken stop)
    {
        var pull = new NatsJSNextOpts { Expires = _options.PullExpires };
        while (!stop.IsCancellationRequested)
        {
            INatsJSMsg<byte[]>? next;
            // The pull is not cancelled by stop: it ends by itself within PullExpires, and a frame it brings is
            // finished, so a stopping worker leaves no frame delivered to it and unacknowledged.
            try { next = await _consumer.NextAsync<byte[]>(opts: pull, cancellationToken: CancellationToken.None); }
            catch (Exception e) when (e is NatsException or TimeoutException or OperationCanceledException)
            {
                // The server is restarting or failing over: the client reconnects by itself; ask again shortly
                // (said once every 10 s, not at every try).
                if (Environment.TickCount64 - Interlocked.Read(ref _lastPullWarning) > 10_000)
                {
                    Interlocked.Exchange(ref _lastPullWarning, Environment.TickCount64);
                    _log($"worker: pull failed ({e.GetType().Name}: {e.Message}); retrying");
                }
                try { await Task.Delay(500, stop); } catch (OperationCanceledException) { break; }
                continue;
            }
            if (next is { } message) await HandleAsync(message);   // not cancelled by stop: a frame in hand is finished
        }
    }

    async Task HandleAsync(INatsJSMsg<byte[]> message)
    {
        string subject = message.Subject;
        ulong sequence = message.Metadata?.Sequence.Stream ?? 0;
        string frameId = FrameHeaders.Get(message.Headers, FrameHeaders.FrameId) ?? FrameHeaders.Get(message.Headers,
            FrameHeaders.MessageId)
            ?? $"{_options.Limits.FramesStream}-{sequence.ToString(CultureInfo.InvariantCulture)}";
        string camera = FrameHeaders.CameraOf(message.Headers, subject);
        JsonObject body;
        string target;
        var model = _models.For(subject);
        try
        {
            byte[] data = message.Data ?? Array.Empty<byte>();
            if (data.Length == 0) throw new ImageDecodeException(ImageProblem.Empty, $"frame {frameId}: empty message");
            if (data.Length > _options.Limits.MaxFrameBytes)
                throw new ImageDecodeException(ImageProblem.TooLarge,
                    $"frame {frameId}: {data.Length} bytes, more than the {_options.Limits.MaxFrameBytes} allowed");
            var clock = Stopwatch.StartNew();
            var prediction = model.Detector.Predict(data, $"frame {frameId}", masks: _options.Masks);
            double inferenceMs = clock.Elapsed.TotalMilliseconds;
            body = Result(message, frameId, camera, model, prediction, inferenceMs);
            target = $"results.{camera}";
        }
        catch (ImageDecodeException e)
        {
            body = DeadLetter(message, frameId, camera, e.Message);
            target = $"deadletter.{camera}";
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Not the frame's fault as far as we know: hand it back, unless this was its last delivery.
            if ((message.Metadata?.NumDelivered ?? 1) < (ulong)_options.Limits.MaxDeliver)
            {
                _log($"worker: frame {frameId} failed ({e.GetType().Name}: {e.Message}); handed back for redelivery");
                Interlocked.Increment(ref _handedBack);
                await TryAsync(() => message.NakAsync(delay: TimeSpan.FromSeconds(1)).AsTask());
                return;
            }
            body = DeadLetter(message, frameId, camera, $"failed on its last delivery: {e.GetType().Name}: {e.Message}");
            target = $"deadletter.{camera}";
        }

        if (!await StoreAsync(target, body, frameId))
        {
            Interlocked.Increment(ref _handedBack);
            await TryAsync(() => message.NakAsync(delay: TimeSpan.FromSeconds(1)).AsTask());
            return;
        }
        // Acknowledged only now that the result is stored; a double ack waits for the server to confirm it.
        await TryAsync(() => message.AckAsync(new AckOpts { DoubleAck = true }).AsTask());
        Interlocked.Increment(ref target.StartsWith("results.", StringComparison.Ordinal) ? ref _scored : ref _deadLettered);
    }

    /// <summary>Publishes to the results stream with the frame id as message id, retrying while the broker fails over.</summary>
    async Task<bool> StoreAsync(string subject, JsonObject body, string frameId)
    {
        byte[] payload = System.Text.Encoding.UTF8.GetBytes(body.ToJsonString());
        var deadline = Stopwatch.StartNew();
        var wait = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                var ack = await _js.PublishAsync(subject, payload, opts: new NatsJSPubOpts { MsgId = frameId });
                ack.EnsureSuccess();
                if (ack.Duplicate) Interlocked.Increment(ref _duplicates);
                return true;
            }
            catch (NatsJSDuplicateMessageException)
            {
                // The stream has this frame's result already (a worker stored it and died before acknowledging).
                Interlocked.Increment(ref _duplicates);
                return true;
            }
            catch (Exception e) when (e is NatsException or TimeoutException or OperationCanceledException)
            {
                if (deadline.Elapsed > _options.PublishRetry)
                {
                    _log($"worker: result of frame {frameId} not stored after {deadline.Elapsed.TotalSeconds:0} s "
                        + $"({e.GetType().Name}: {e.Message}); frame handed back");
                    return false;
                }
                await Task.Delay(wait);
                wait = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
            }
        }
    }

    async Task TryAsync(Func<Task> action)
    {
        try { await action(); }
        catch (Exception e) when (e is NatsException or TimeoutException or OperationCanceledException)
        {
            // Lost with the connection: the frame is redelivered after the ack wait and its result de-duplicated.
            _log($"worker: acknowledgement not confirmed ({e.GetType().Name}: {e.Message})");
        }
    }

    JsonObject Result(INatsJSMsg<byte[]> message, string frameId, string camera, ModelRouter.Entry model, AnomalyPrediction p,
        double inferenceMs)
    {
        var o = Common(message, frameId, camera);
        o["score"] = Math.Round(p.Score, 6);
        o["label"] = p.IsAnomalous ? "anomalous" : "normal";
        o["threshold"] = p.Threshold;
        o["model"] = model.Detector.ModelName;
        o["model_file"] = Path.GetFileName(model.Path);
        o["model_version"] = model.Version;
        o["width"] = p.SourceWidth;
        o["height"] = p.SourceHeight;
        o["inference_ms"] = Math.Round(inferenceMs, 2);
        if (p.MaskPng != null) o["mask_png"] = Convert.ToBase64String(p.MaskPng);
        return o;
    }

    JsonObject DeadLetter(INatsJSMsg<byte[]> message, string frameId, string camera, string reason)
    {
        var o = Common(message, frameId, camera);
        o["reason"] = reason;
        o["bytes"] = message.Data?.Length ?? 0;
        _log($"worker: frame {frameId} dead-lettered: {reason}");
        return o;
    }

    JsonObject Common(INatsJSMsg<byte[]> message, string frameId, string camera)
    {
        var now = DateTimeOffset.UtcNow;
        var o = new JsonObject
        {
            ["frame_id"] = frameId,
            ["camera"] = camera,
            ["subject"] = message.Subject,
            ["captured_utc"] = FrameHeaders.Get(message.Headers, FrameHeaders.Captured),
            ["file"] = FrameHeaders.Get(message.Headers, FrameHeaders.File),
        };
        if (message.Metadata is { } meta)
        {
            o["stream_sequence"] = meta.Sequence.Stream;
            o["delivery"] = meta.NumDelivered;
            o["published_utc"] = meta.Timestamp.ToString("o", CultureInfo.InvariantCulture);
            o["latency_ms"] = Math.Round((now - meta.Timestamp).TotalMilliseconds, 1);
        }
        o["scored_utc"] = now.ToString("o", CultureInfo.InvariantCulture);
        o["worker"] = _identity;
        return o;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _connection.DisposeAsync();
        _models.Dispose();
    }
}
