using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace AnomalySharp.Workers;

/// <summary>
/// Connects to NATS and creates the frames stream, the results stream and the workers' shared durable consumer when
/// they are missing (existing ones are used as they are, so an operator's own limits win).
/// </summary>
public static class JetStreamLayout
{
    /// <summary>Connects, reconnecting for ever after a first success (a restarted or failed-over server is waited for).</summary>
    /// <exception cref="ScaleOutException">The first connection fails.</exception>
    public static async Task<NatsConnection> ConnectAsync(string url, string name, CancellationToken cancellation)
    {
        if (!url.Split(',').All(u => Uri.TryCreate(u.Trim(), UriKind.Absolute,
            out var uri) && uri.Scheme is "nats" or "tls" or "ws" or "wss"))
            throw new ScaleOutException($"--nats {url}: not a NATS URL (nats://HOST:4222, several separated by commas)");
        var connection = new NatsConnection(NatsOpts.Default with
        {
            Url = url,
            Name = name,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            MaxReconnectRetry = -1,
            ReconnectWaitMin = TimeSpan.FromMilliseconds(200),
            ReconnectWaitMax = TimeSpan.FromSeconds(2),
            RequestTimeout = TimeSpan.FromSeconds(10),
        });
        try
        {
            await connection.ConnectAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(15), cancellation);
            return connection;
        }
        catch (Exception e) when (e is NatsException or TimeoutException or System.Net.Sockets.SocketException)
        {
            await connection.DisposeAsync();
            throw new ScaleOutException($"--nats {url}: cannot connect to NATS ({e.Message})", e);
        }
    }

    /// <summary>The frames stream: work-queue retention (a frame leaves once acknowledged); when full, new frames are refused, never old
    /// ones dropped.</summary>
    public static StreamConfig FramesConfig(StreamLimits limits) => new(limits.FramesStream, new[] { limits.FramesSubject })
    {
        Retention = StreamConfigRetention.Workqueue,
        Discard = StreamConfigDiscard.New,
        MaxAge = limits.MaxAge,
        MaxBytes = limits.MaxBytes,
        MaxMsgSize = limits.MaxFrameBytes,
        Storage = StreamConfigStorage.File,
        NumReplicas = limits.Replicas,
        DuplicateWindow = TimeSpan.FromMinutes(10),
    };

    /// <summary>The results stream: results.&gt; and deadletter.&gt;, a log kept <see cref="StreamLimits.ResultsMaxAge"/>, de-duplicated by
    /// frame id.</summary>
    public static StreamConfig ResultsConfig(StreamLimits limits) => new(limits.ResultsStream, new[] { "results.>", "deadletter.>" })
    {
        Retention = StreamConfigRetention.Limits,
        Discard = StreamConfigDiscard.Old,
        MaxAge = limits.ResultsMaxAge,
        Storage = StreamConfigStorage.File,
        NumReplicas = limits.Replicas,
        DuplicateWindow = limits.DuplicateWindow,
    };

    /// <summary>
    /// Runs a JetStream API call again while JetStream is briefly unavailable: a new cluster electing its first leader,
    /// or a stream's leader lost with its server. Gives up after <paramref name="patience"/>.
    /// </summary>
    public static async Task<T> RetryAsync<T>(Func<Task<T>> call, CancellationToken cancellation, TimeSpan? patience = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try { return await call(); }
            catch (Exception e) when (IsTransient(e) && clock.Elapsed < (patience ?? TimeSpan.FromSeconds(30)))
            {
                await Task.Delay(250, cancellation);
            }
        }
    }

    /// <summary>Whether a JetStream failure may pass by itself (no responders, no response, 503).</summary>
    public static bool IsTransient(Exception e) =>
        e is NatsJSApiNoResponseException or NatsNoRespondersException or NatsNoReplyException or TimeoutException
        || e is NatsJSApiException { Error.Code: 503 or 408 };

    /// <summary>
    /// How long a stream's placement may fail for want of peers before it is an error. The servers of a cluster that
    /// has just started report "ready" before its metadata leader knows all of them, so a replicated stream created at
    /// once is refused for a few seconds; a cluster with fewer servers than replicas is refused for good.
    /// </summary>
    public static readonly TimeSpan PeerPatience = TimeSpan.FromSeconds(15);

    /// <summary>Creates a stream that does not exist yet; an existing one is left as it is.</summary>
    public static Task EnsureStreamAsync(INatsJSContext js, StreamConfig config, CancellationToken cancellation) =>
        RetryAsync(async () => { await EnsureStreamOnceAsync(js, config, cancellation); return true; }, cancellation);

    /// <summary>Whether a JetStream refusal says the cluster has (so far) too few servers to place the replicas.</summary>
    public static bool IsNoPeers(NatsJSApiException e) =>
        e.Error.ErrCode == 10005 || e.Error.Description?.Contains("no suitable peers", StringComparison.OrdinalIgnoreCase) == true;

    static async Task EnsureStreamOnceAsync(INatsJSContext js, StreamConfig config, CancellationToken cancellation)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await CreateIfMissingAsync(js, config, cancellation);
                return;
            }
            catch (NatsJSApiException e) when (IsNoPeers(e) && clock.Elapsed < PeerPatience)
            {
                await Task.Delay(500, cancellation);
            }
            catch (NatsJSApiException e) when (!IsTransient(e))
            {
                string why = IsNoPeers(e) ? $" after {PeerPatience.TotalSeconds:0} s (--replicas {config.NumReplicas} needs that many "
                    + $"JetStream servers in the cluster)" : "";
                throw new ScaleOutException($"cannot create stream {config.Name} on "
                    + $"{string.Join(", ", config.Subjects ?? Array.Empty<string>())}: {e.Error.Description}{why}", e);
            }
        }
    }

    static async Task CreateIfMissingAsync(INatsJSContext js, StreamConfig config, CancellationToken cancellation)
    {
        try
        {
            await js.GetStreamAsync(config.Name!, cancellationToken: cancellation);
            return;
        }
        catch (NatsJSApiException e) when (e.Error.Code == 404) { }
        try { await js.CreateStreamAsync(config, cancellation); }
        catch (NatsJSApiException e) when (e.Error.ErrCode == 10058) { } // created by another worker meanwhile
    }

    /// <summary>Both streams.</summary>
    public static async Task EnsureStreamsAsync(INatsJSContext js, StreamLimits limits, CancellationToken cancellation)
    {
        await EnsureStreamAsync(js, FramesConfig(limits), cancellation);
        await EnsureStreamAsync(js, ResultsConfig(limits), cancellation);
    }

    /// <summary>
    /// The workers' shared durable pull consumer: each frame goes to one worker; explicit acknowledgement. A missing
    /// consumer is created; an existing one is joined only when its subject and limits are this worker's. A worker never
    /// changes the consumer under the others: a narrower subject would make JetStream skip, for every worker, the frames
    /// outside it, and they would wait unscored until the stream's age limit removes them.
    /// </summary>
    /// <exception cref="ScaleOutException">The consumer exists with other settings, or cannot be created.</exception>
    public static async Task<INatsJSConsumer> EnsureConsumerAsync(INatsJSContext js, StreamLimits limits, string durable,
        string subject, CancellationToken cancellation)
    {
        var config = new ConsumerConfig(durable)
        {
            AckPolicy = ConsumerConfigAckPolicy.Explicit,
            AckWait = limits.AckWait,
            MaxDeliver = limits.MaxDeliver,
            MaxAckPending = limits.MaxAckPending,
            FilterSubject = subject,
            DeliverPolicy = ConsumerConfigDeliverPolicy.All,
        };
        try { return await RetryAsync(() => JoinOrCreateAsync(js, limits.FramesStream, config, cancellation), cancellation); }
        catch (NatsJSApiException e) when (!IsTransient(e))
        {
            string why = e.Error.Description?.Contains("not unique", StringComparison.Ordinal) == true
                ? " (the frames stream hands each frame to one consumer, so consumers' subjects may not overlap: start every worker "
                    + "of a group with the same --durable and --subject, and give other groups subjects apart from it)"
                : "";
            throw new ScaleOutException($"cannot create consumer {durable} on stream {limits.FramesStream} for {subject}: "
                + $"{e.Error.Description}{why}", e);
        }
    }

    static async Task<INatsJSConsumer> JoinOrCreateAsync(INatsJSContext js, string stream, ConsumerConfig wanted,
        CancellationToken cancellation)
    {
        if (await TryGetConsumerAsync(js, stream, wanted.Name!, cancellation) is { } existing)
            return CheckSameSettings(existing, stream, wanted);
        try { return await js.CreateConsumerAsync(stream, wanted, cancellation); }
        catch (NatsJSApiException e) when (e.Error.ErrCode == ConsumerExistsErrCode)
        {
            // Another worker created it a moment ago, with other settings: say which.
            var other = await TryGetConsumerAsync(js, stream, wanted.Name!, cancellation);
            if (other == null) throw;
            return CheckSameSettings(other, stream, wanted);
        }
    }

    /// <summary>JetStream's error code for a create that finds the consumer with another configuration.</summary>
    const int ConsumerExistsErrCode = 10148;

    static async Task<INatsJSConsumer?> TryGetConsumerAsync(INatsJSContext js, string stream, string durable,
        CancellationToken cancellation)
    {
        try { return await js.GetConsumerAsync(stream, durable, cancellation); }
        catch (NatsJSApiException e) when (e.Error.Code == 404) { return null; }
    }

    static INatsJSConsumer CheckSameSettings(INatsJSConsumer existing, string stream, ConsumerConfig wanted)
    {
        var have = existing.Info.Config;
        string haveSubject = have.FilterSubject ?? (have.FilterSubjects is { } many ? string.Join(",", many) : ">");
        var differences = new List<string>();
        if (haveSubject != wanted.FilterSubject) differences.Add($"subject '{haveSubject}' (this worker: --subject "
            + $"'{wanted.FilterSubject}')");
        if (have.AckWait != wanted.AckWait) differences.Add($"ack wait {have.AckWait.TotalSeconds:0.###} s (this worker: --ack-wait "
            + $"{wanted.AckWait.TotalSeconds:0.###})");
        if (have.MaxDeliver != wanted.MaxDeliver) differences.Add($"max deliver {have.MaxDeliver} (this worker: --max-deliver "
            + $"{wanted.MaxDeliver})");
        if (have.MaxAckPending != wanted.MaxAckPending) differences.Add($"max ack pending {have.MaxAckPending} (this worker: "
            + $"{wanted.MaxAckPending})");
        if (have.AckPolicy != wanted.AckPolicy) differences.Add($"ack policy {have.AckPolicy} (a worker needs explicit)");
        if (differences.Count == 0) return existing;
        throw new ScaleOutException($"consumer {wanted.Name} on stream {stream} already exists with {string.Join(", ", differences)}; "
            + "a worker never changes the consumer the running workers share (frames outside a new subject would be skipped for all "
                + $"of them): start this worker with the same settings, or give it its own --durable and a subject apart from the others', "
            + $"or, with every worker of {wanted.Name} stopped, remove the consumer (nats consumer rm {stream} {wanted.Name}) and the "
                + $"next worker creates it with its settings, unscored frames included");
    }
}
