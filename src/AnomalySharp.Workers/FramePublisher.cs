using System.Diagnostics;
using System.Globalization;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace AnomalySharp.Workers;

/// <summary>
/// Sends image files as frames: the encoded bytes as the body, the frame id (also JetStream's message id, so sending
/// the same frame twice stores it once), camera, capture time and file name as headers. Each frame is sent once the
/// stream has stored the previous one; when the stream is full (it refuses new frames rather than drop old ones) the
/// publisher waits and tries again, so no frame is lost to a slow set of workers.
/// </summary>
public static class FramePublisher
{
    /// <summary>Extensions of the image files taken from a folder.</summary>
    public static readonly string[] ImageExtensions = { ".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif" };

    /// <summary>What was sent.</summary>
    public sealed record Summary(int Frames, long Bytes, int Duplicates, double Seconds);

    /// <summary>The files named by inputs: files as given, folders' images recursively in ordinal name order.</summary>
    /// <exception cref="ScaleOutException">An input that does not exist, or no image at all.</exception>
    public static List<string> ListFiles(IReadOnlyList<string> inputs)
    {
        var files = new List<string>();
        foreach (string input in inputs)
        {
            if (File.Exists(input)) files.Add(input);
            else if (Directory.Exists(input))
                files.AddRange(Directory.EnumerateFiles(input, "*", SearchOption.AllDirectories)
                    .Where(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal));
            else throw new ScaleOutException($"input not found: {input}");
        }
        if (files.Count == 0) throw new ScaleOutException($"no image files in {string.Join(", ", inputs)} (looked for "
            + $"{string.Join(", ", ImageExtensions)})");
        return files;
    }

    /// <summary>
    /// Refuses, before anything is sent, a file that cannot be a frame: not a regular file, or larger than
    /// <paramref name="maxBytes"/> (<paramref name="limit"/> says which limit). One too large in the middle of a folder
    /// used to stop the publication with the earlier frames sent and unmentioned.
    /// </summary>
    static void CheckFrameFiles(IEnumerable<string> files, long maxBytes, string limit)
    {
        foreach (string file in files)
        {
            AnomalySharp.Runtime.BoundedFile.CheckRegular(file, (_, m) => new ScaleOutException(m + " (nothing was sent)"));
            long length = new FileInfo(file).Length;
            if (length > maxBytes) throw new ScaleOutException($"{file}: {length} bytes, more than {limit} ({maxBytes} bytes); "
                + $"nothing was sent");
        }
    }

    /// <summary>Sends the frames.</summary>
    public static async Task<Summary> PublishAsync(PublishOptions options, Action<string>? log = null,
        CancellationToken cancellation = default)
    {
        log ??= _ => { };
        options.Limits.Validate();
        if (!FrameHeaders.IsSubjectSafe(options.Subject)) throw new ScaleOutException($"--subject {options.Subject}: a frame needs a "
            + $"concrete subject (no wildcards or spaces)");
        if (!new SubjectPattern(options.Limits.FramesSubject).Matches(options.Subject))
            throw new ScaleOutException($"--subject {options.Subject} is not in the frames stream's subjects "
                + $"({options.Limits.FramesSubject})");
        if (!(options.Rate == 0 || options.Rate is >= 0.001 and <= 1_000_000))
            throw new ScaleOutException($"--rate must be 0 (as fast as the stream takes them) or 0.001..1000000 frames/s, got "
                + $"{options.Rate}");
        if (options.Count < 0) throw new ScaleOutException($"--count must be positive, got {options.Count}");
        string camera = options.Camera ?? FrameHeaders.CameraOf(null, options.Subject);
        if (!FrameHeaders.IsSubjectSafe(camera)) throw new ScaleOutException($"--camera {camera}: not usable in a subject");
        var files = ListFiles(options.Inputs);
        CheckFrameFiles(files, options.Limits.MaxFrameBytes, "the largest frame");
        int total = options.Count > 0 ? options.Count : files.Count;
        string prefix = options.IdPrefix ?? $"{camera}-{DateTime.UtcNow:yyyyMMddTHHmmssfff}-";

        await using var connection = await JetStreamLayout.ConnectAsync(options.Url, "anomalysharp-publish", cancellation);
        var js = new NatsJSContext(connection);
        await JetStreamLayout.EnsureStreamsAsync(js, options.Limits, cancellation);
        long maxPayload = connection.ServerInfo?.MaxPayload ?? long.MaxValue;
        if (maxPayload < options.Limits.MaxFrameBytes) CheckFrameFiles(files, maxPayload,
            "the server's max_payload (raise it for large images)");

        var clock = Stopwatch.StartNew();
        long bytes = 0;
        int duplicates = 0;
        for (int i = 0; i < total; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            string file = files[i % files.Count];
            byte[] data = AnomalySharp.Runtime.BoundedFile.ReadAllBytes(file, Math.Min(options.Limits.MaxFrameBytes, maxPayload), (_,
                m) => new ScaleOutException(m));
            if (options.Rate > 0)
            {
                var due = TimeSpan.FromSeconds(i / options.Rate) - clock.Elapsed;
                if (due > TimeSpan.Zero) await Task.Delay(due, cancellation);
            }
            string id = prefix + i.ToString("D6", CultureInfo.InvariantCulture);
            var headers = new NatsHeaders
            {
                [FrameHeaders.FrameId] = id,
                [FrameHeaders.Camera] = camera,
                [FrameHeaders.Captured] = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture),
                [FrameHeaders.File] = Path.GetFileName(file),
            };
            if (await SendAsync(js, options.Subject, data, headers, id, log, cancellation)) duplicates++;
            bytes += data.Length;
        }
        return new Summary(total, bytes, duplicates, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Sends one frame until the stream stores it; true when the stream already had it.</summary>
    static async Task<bool> SendAsync(NatsJSContext js, string subject, byte[] data, NatsHeaders headers, string id, Action<string> log,
        CancellationToken cancellation)
    {
        var wait = TimeSpan.FromMilliseconds(100);
        var since = Stopwatch.StartNew();
        bool told = false;
        while (true)
        {
            try
            {
                var ack = await js.PublishAsync(subject, data, opts: new NatsJSPubOpts { MsgId = id }, headers: headers,
                    cancellationToken: cancellation);
                ack.EnsureSuccess();
                return ack.Duplicate;
            }
            catch (NatsJSDuplicateMessageException)
            {
                return true;
            }
            catch (NatsJSApiException e)
            {
                if (!IsFull(e.Error.Description) && e.Error.Code != 503)
                    throw new ScaleOutException($"frame {id} refused by the stream: {e.Error.Description} (code {e.Error.Code})", e);
                if (!told) log($"publish: the stream is full or unavailable ({e.Error.Description}); waiting");
                told = true;
            }
            catch (Exception e) when (e is NatsException or TimeoutException && !cancellation.IsCancellationRequested)
            {
                if (since.Elapsed > TimeSpan.FromMinutes(2)) throw new ScaleOutException($"frame {id} not stored after "
                    + $"{since.Elapsed.TotalSeconds:0} s: {e.Message}", e);
                if (!told) log($"publish: {e.GetType().Name}: {e.Message}; retrying");
                told = true;
            }
            await Task.Delay(wait, cancellation);
            wait = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
        }
    }

    static bool IsFull(string? description) =>
        description != null && (description.Contains("maximum bytes",
            StringComparison.OrdinalIgnoreCase) || description.Contains("maximum messages", StringComparison.OrdinalIgnoreCase)
            || description.Contains("resource limits", StringComparison.OrdinalIgnoreCase));
}
