using System.CommandLine;
using System.Globalization;
using AnomalySharp.Workers;

namespace AnomalySharp.Cli;

/// <summary>Scale-out on NATS JetStream: `worker` scores frames from a stream, `publish` sends images as frames, `results` reads the
/// results.</summary>
internal static class WorkerCommands
{
    static readonly Option<string> Nats = new("--nats")
    {
        Description = "NATS server URL(s), e.g. nats://HOST:4222 (several separated by commas)", Required = true
    };
    static readonly Option<string?> Stream = new("--stream")
    {
        Description = "the frames stream (default FRAMES; created on frames.> when missing)"
    };
    static readonly Option<int?> Replicas = new("--replicas")
    {
        Description = "replicas of the streams when they are created (default 1; 3 on a three-server cluster)"
    };

    static StreamLimits Limits(ParseResult p, double? ackWait = null, int? maxDeliver = null)
    {
        var limits = new StreamLimits { FramesStream = p.GetValue(Stream) ?? "FRAMES", Replicas = p.GetValue(Replicas) ?? 1 };
        if (ackWait != null)
        {
            // A TimeSpan holds no NaN and no 1e300 s; the range itself is StreamLimits.Validate's.
            limits = limits with { AckWait = TimeSpan.FromSeconds(CommandOptions.Finite(ackWait, "--ack-wait")!.Value) };
        }
        if (maxDeliver != null) limits = limits with { MaxDeliver = maxDeliver.Value };
        return limits;
    }

    public static Command Worker()
    {
        var subject = new Option<string?>("--subject")
        {
            Description = "frames to take, a subject pattern within the stream (default frames.>)"
        };
        var model = new Option<string>("--model")
        {
            Description = "the exported .onnx model for frames no --model-for matches",
            Required = true
        };
        var modelFor = new Option<string[]>("--model-for")
        {
            Description = "PATTERN=MODEL.onnx: another model for matching subjects, "
            + "e.g. 'frames.line2.>=line2.onnx' (repeatable, first match wins)"
        };
        var sessions = new Option<int?>("--sessions")
        {
            Description = "frames scored at once (default 2, at most the cores); the worker holds no more frames than this"
        };
        var threads = new Option<int?>("--threads") { Description = "threads per session (default: the cores divided among the sessions)" };
        var durable = new Option<string?>("--durable")
        {
            Description = "the durable consumer every worker shares (default anomalysharp-workers)"
        };
        var ackWait = new Option<double?>("--ack-wait")
        {
            Description = "seconds a frame may stay unacknowledged before another worker gets it (default 30; when creating the consumer)"
        };
        var maxDeliver = new Option<int?>("--max-deliver")
        {
            Description = "deliveries of a frame before it goes to the dead-letter subject (default 5)"
        };
        var masks = new Option<bool>("--masks") { Description = "put the predicted mask (PNG, base64) in each result" };
        var cmd = new Command("worker", "score frames from a NATS JetStream stream and publish results to results.<camera> (start "
            + "several, on several machines)")
            { Nats, Stream, subject, model, modelFor, sessions, threads, durable, ackWait, maxDeliver, masks, Replicas };
        cmd.SetAction(p =>
        {
            var routes = new List<(SubjectPattern, string)>();
            foreach (string route in p.GetValue(modelFor) ?? Array.Empty<string>())
            {
                int eq = route.LastIndexOf('=');
                if (eq <= 0 || eq == route.Length - 1) throw new AnomalySharpException($"--model-for {route}: expected PATTERN=MODEL.onnx");
                routes.Add((Pattern(route[..eq], "--model-for"), route[(eq + 1)..]));
            }
            int t = p.GetValue(threads) ?? 0;
            // Options not given keep WorkerOptions' own defaults (subject, durable, sessions), stated once there.
            var options = new WorkerOptions
            {
                Url = p.GetValue(Nats)!, Model = p.GetValue(model)!, ModelsFor = routes,
                ThreadsPerSession = t, Masks = p.GetValue(masks), Limits = Limits(p, p.GetValue(ackWait), p.GetValue(maxDeliver)),
            };
            if (p.GetValue(subject) is { } given) options = options with { Subject = given };
            if (p.GetValue(durable) is { } name) options = options with { Durable = name };
            if (p.GetValue(sessions) is { } n) options = options with { Sessions = n };
            options.Validate();
            // A frame in hand is finished and acknowledged after SIGTERM; that may take a result's publication retries.
            Shutdown.Grace = options.PublishRetry + TimeSpan.FromSeconds(10);
            var worker = InspectionWorker.StartAsync(options, Log, Shutdown.Token).GetAwaiter().GetResult();
            try
            {
                string models = string.Join(", ",
                    worker.Models.Models.Select(m => $"{m.Detector.ModelName} {Path.GetFileName(m.Path)} ({m.Version})"));
                Log($"worker: ready: {options.Limits.FramesStream} {options.Subject} as {options.Durable}, {options.Sessions} "
                    + $"session(s); models: {models} (Ctrl-C or SIGTERM to stop)");
                worker.RunAsync(Shutdown.Token).GetAwaiter().GetResult();
                Log($"worker: stopped: {worker.Scored} scored, {worker.DeadLettered} dead-lettered, {worker.Duplicates} duplicate "
                    + $"results dropped, {worker.HandedBack} handed back");
            }
            finally { worker.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
            return 0;
        });
        return cmd;
    }

    public static Command Publish()
    {
        var subject = new Option<string>("--subject") { Description = "the frames' subject, e.g. frames.line1.cam1", Required = true };
        var inputs = new Argument<string[]>("inputs")
        {
            Description = "image files and folders (their images, recursively)",
            Arity = ArgumentArity.OneOrMore
        };
        var rate = new Option<double?>("--rate") { Description = "frames per second (default: as fast as the stream stores them)" };
        var count = new Option<int?>("--count") { Description = "frames to send, cycling through the images (default: each image once)" };
        var idPrefix = new Option<string?>("--id-prefix")
        {
            Description = "frame ids are this prefix and a running number (default: camera and start time); the same id is stored once"
        };
        var camera = new Option<string?>("--camera") { Description = "camera header (default: the subject without its first token)" };
        var cmd = new Command("publish", "send images as frames to a NATS JetStream stream (a test driver, or a backfill of a folder)")
            { Nats, subject, inputs, rate, count, idPrefix, camera, Stream, Replicas };
        cmd.SetAction(p =>
        {
            var options = new PublishOptions
            {
                Url = p.GetValue(Nats)!, Subject = p.GetValue(subject)!, Inputs = p.GetValue(inputs)!, Rate = p.GetValue(rate) ?? 0,
                Count = p.GetValue(count) ?? 0, IdPrefix = p.GetValue(idPrefix), Camera = p.GetValue(camera), Limits = Limits(p),
            };
            var summary = FramePublisher.PublishAsync(options, Log, Shutdown.Token).GetAwaiter().GetResult();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"published {summary.Frames} frames ({summary.Bytes / 1048576.0:0.0} MB) to {options.Subject} in "
                    + $"{summary.Seconds:0.0} s ({summary.Frames / Math.Max(summary.Seconds, 1e-9):0} "
                        + $"frames/s){(summary.Duplicates > 0 ? $"; {summary.Duplicates} already in the stream" : "")}"));
            return 0;
        });
        return cmd;
    }

    public static Command Results()
    {
        var subject = new Option<string?>("--subject")
        {
            Description = "results to read, a subject pattern (default results.>; deadletter.> for frames that could not be scored)"
        };
        var follow = new Option<bool>("--follow")
        {
            Description = "keep printing new results until Ctrl-C (default: print the stored ones and exit)"
        };
        var resultsStream = new Option<string?>("--results-stream") { Description = "the results stream (default RESULTS)" };
        var cmd = new Command("results", "print results from a NATS JetStream stream as JSON lines") { Nats, subject, follow,
            resultsStream };
        cmd.SetAction(p =>
        {
            var limits = new StreamLimits { ResultsStream = p.GetValue(resultsStream) ?? "RESULTS" };
            string s = Pattern(p.GetValue(subject) ?? "results.>", "--subject").Text;
            using var stdout = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = p.GetValue(follow) };
            long n = ResultReader.ReadAsync(p.GetValue(Nats)!, s, p.GetValue(follow), stdout, limits, Log,
                Shutdown.Token).GetAwaiter().GetResult();
            Log($"results: {n} messages");
            return 0;
        });
        return cmd;
    }

    static SubjectPattern Pattern(string text, string option)
    {
        try { return new SubjectPattern(text); }
        catch (ArgumentException e) { throw new AnomalySharpException($"{option}: {e.Message}"); }
    }

    static void Log(string line) => Console.Error.WriteLine(line);
}
