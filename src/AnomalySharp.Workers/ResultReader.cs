using System.Text;
using System.Text.Json.Nodes;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace AnomalySharp.Workers;

/// <summary>Reads the results stream as JSON lines: every stored result (and dead letter) on a subject, then, when following, each new one.</summary>
public static class ResultReader
{
    /// <summary>Writes each result's JSON on its own line; returns how many were written.</summary>
    public static async Task<long> ReadAsync(string url, string subject, bool follow, TextWriter output, StreamLimits? limits = null,
        Action<string>? log = null, CancellationToken cancellation = default)
    {
        limits ??= new StreamLimits();
        await using var connection = await JetStreamLayout.ConnectAsync(url, "anomalysharp-results", cancellation);
        var js = new NatsJSContext(connection);
        // An ephemeral consumer with one filter subject (multiple filter subjects need NATS 2.10; Debian ships 2.9),
        // no acknowledgements, removed by the server a minute after the reader goes.
        // It is named: without a name, NATS 2.9 reads the filter's first token as the name in the create request's subject.
        var config = new ConsumerConfig
        {
            Name = $"anomalysharp-results-{Guid.NewGuid():N}",
            FilterSubject = subject, AckPolicy = ConsumerConfigAckPolicy.None, DeliverPolicy = ConsumerConfigDeliverPolicy.All,
            InactiveThreshold = TimeSpan.FromMinutes(1),
        };
        INatsJSConsumer consumer;
        try { consumer = await JetStreamLayout.RetryAsync(() => js.CreateOrUpdateConsumerAsync(limits.ResultsStream, config, cancellation).AsTask(), cancellation, TimeSpan.FromSeconds(90)); }
        catch (NatsJSApiException e) when (e.Error.Code == 404)
        {
            if (!follow) return 0;
            await JetStreamLayout.EnsureStreamsAsync(js, limits, cancellation);
            consumer = await js.CreateOrUpdateConsumerAsync(limits.ResultsStream, config, cancellation);
        }
        var pattern = new SubjectPattern(subject);
        long written = 0;
        async Task Write(INatsJSMsg<byte[]> message)
        {
            string text = Encoding.UTF8.GetString(message.Data ?? Array.Empty<byte>());
            JsonNode? node = null;
            try { node = JsonNode.Parse(text); } catch (System.Text.Json.JsonException) { }
            if (!pattern.Matches(message.Subject)) return;
            if (node is JsonObject obj)
            {
                obj["result_subject"] = message.Subject;
                if (message.Metadata is { } meta) obj["stored_utc"] = meta.Timestamp.ToString("o", System.Globalization.CultureInfo.InvariantCulture);
                await output.WriteLineAsync(obj.ToJsonString());
                written++;
            }
            else log?.Invoke($"results: message {message.Metadata?.Sequence.Stream} on {message.Subject} is not a JSON object; skipped");
        }
        try
        {
            if (follow)
                await foreach (var message in consumer.ConsumeAsync<byte[]>(cancellationToken: cancellation)) await Write(message);
            else
                while (true)
                {
                    // What is stored now, batch by batch; an empty batch means the reader has caught up.
                    int got = 0;
                    await foreach (var message in consumer.FetchNoWaitAsync<byte[]>(new NatsJSFetchOpts { MaxMsgs = 256 }, cancellationToken: cancellation))
                    {
                        got++;
                        await Write(message);
                    }
                    if (got == 0) break;
                }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested) { }
        await output.FlushAsync(CancellationToken.None);
        return written;
    }
}
