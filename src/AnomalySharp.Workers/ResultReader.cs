using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace AnomalySharp.Workers;

/// <summary>Reads the results stream as JSON lines: every stored result (and dead letter) on a subject, then, when following, each new
/// one.</summary>
public static class ResultReader
{
    /// <summary>Writes each result's JSON on its own line; returns how many were written.</summary>
    public static async Task<long> ReadAsync(string url, string subject, bool follow, TextWriter output, StreamLimits? limits = null,
        Action<string>? log = null, CancellationToken cancellation = default)
    {
        limits ??= new StreamLimits();
        var pattern = new SubjectPattern(subject);
        await using var connection = await JetStreamLayout.ConnectAsync(url, "anomalysharp-results", cancellation);
        var js = new NatsJSContext(connection);
        long written = 0;
        async Task Write(string messageSubject, ReadOnlyMemory<byte> data, ulong sequence, DateTimeOffset stored)
        {
            if (!pattern.Matches(messageSubject)) return;
            JsonNode? node = null;
            try { node = JsonNode.Parse(Encoding.UTF8.GetString(data.Span)); } catch (System.Text.Json.JsonException) { }
            if (node is JsonObject obj)
            {
                obj["result_subject"] = messageSubject;
                obj["stored_utc"] = stored.ToString("o", CultureInfo.InvariantCulture);
                await output.WriteLineAsync(obj.ToJsonString());
                written++;
            }
            else log?.Invoke($"results: message {sequence} on {messageSubject} is not a JSON object; skipped");
        }

        try
        {
            if (follow)
                await foreach (var message in (await FollowerAsync(js, limits, subject,
                    cancellation)).ConsumeAsync<byte[]>(cancellationToken: cancellation))
                    await Write(message.Subject, message.Data ?? Array.Empty<byte>(), message.Metadata?.Sequence.Stream ?? 0,
                        message.Metadata?.Timestamp ?? default);
            else
            {
                // What is stored now, message by message from the stream's leader (the next one on the subject after the
                // last): no consumer is created, so a dump needs neither the cluster's metadata leader nor any cleanup.
                INatsJSStream stream;
                try
                {
                    stream = await JetStreamLayout.RetryAsync(() => js.GetStreamAsync(limits.ResultsStream,
                    cancellationToken: cancellation).AsTask(), cancellation, TimeSpan.FromSeconds(90));
                }
                catch (NatsJSApiException e) when (e.Error.Code == 404) { return 0; }
                ulong next = stream.Info.State.FirstSeq, last = stream.Info.State.LastSeq;
                while (next > 0 && next <= last)
                {
                    StreamMsgGetResponse response;
                    try
                    {
                        response = await JetStreamLayout.RetryAsync(() => stream.GetAsync(new StreamMsgGetRequest
                        {
                            Seq = next,
                            NextBySubj = subject
                        }, cancellation).AsTask(),
                            cancellation, TimeSpan.FromSeconds(90));
                    }
                    catch (NatsJSApiException e) when (e.Error.Code == 404) { break; }   // none left on the subject
                    var m = response.Message;
                    if (m.Seq > last) break;
                    await Write(m.Subject, m.Data, m.Seq, m.Time);
                    next = m.Seq + 1;
                }
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested) { }
        await output.FlushAsync(CancellationToken.None);
        return written;
    }

    /// <summary>
    /// An ephemeral consumer from the first stored message, with one filter subject (several need NATS 2.10; Debian
    /// ships 2.9), no acknowledgements, removed by the server a minute after the reader goes. It is named: without a
    /// name, NATS 2.9 reads the filter's first token as the name in the create request's subject.
    /// </summary>
    static async Task<INatsJSConsumer> FollowerAsync(NatsJSContext js, StreamLimits limits, string subject, CancellationToken cancellation)
    {
        var config = new ConsumerConfig
        {
            Name = $"anomalysharp-results-{Guid.NewGuid():N}",
            FilterSubject = subject, AckPolicy = ConsumerConfigAckPolicy.None, DeliverPolicy = ConsumerConfigDeliverPolicy.All,
            InactiveThreshold = TimeSpan.FromMinutes(1),
        };
        await JetStreamLayout.EnsureStreamsAsync(js, limits, cancellation);
        return await JetStreamLayout.RetryAsync(() => js.CreateOrUpdateConsumerAsync(limits.ResultsStream, config,
            cancellation).AsTask(), cancellation, TimeSpan.FromSeconds(90));
    }
}
