using System.CommandLine;

namespace AnomalySharp.Cli;

/// <summary>`serve`: an exported model over HTTP.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "an exported .onnx model (anomalysharp export)", Required = true };
        var host = CommandOptions.Opt("--host", "address to bind (default 127.0.0.1, loopback only; 0.0.0.0 for every interface)");
        var port = new Option<int?>("--port") { Description = "port (default 8080; 0 = any free port)" };
        var sessions = new Option<int?>("--sessions")
        {
            Description = "ONNX Runtime sessions serving requests concurrently (default 2, at most the cores)"
        };
        var threads = new Option<int?>("--threads")
        {
            Description = "threads per session (default: cores / sessions, so sessions x threads <= cores)"
        };
        var maxMb = new Option<double?>("--max-request-mb") { Description = "largest accepted request body in MB (default 20)" };
        var queue = new Option<int?>("--queue")
        {
            Description = "requests that may wait for a session; more get 503 with Retry-After (default 64)"
        };
        var uploads = new Option<int?>("--uploads")
        {
            Description = "request bodies read at once, before a session is taken; more get 503 (default 32)"
        };
        var minRate = new Option<double?>("--min-upload-kbps")
        {
            Description = "slowest accepted upload in KiB/s after a 5 s grace; slower clients are cut off (default 16)"
        };
        var bodyTimeout = new Option<double?>("--body-timeout") { Description = "seconds a request body may take to arrive (default 30)" };
        var cmd = new Command("serve", "serve an exported model over HTTP: POST /predict, GET /health, and a web page at /") { model,
            host, port, sessions, threads, maxMb, queue, uploads, minRate, bodyTimeout };
        cmd.SetAction(p =>
        {
            string path = p.GetValue(model)!;
            if (!path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase)) throw new AnomalySharpException($"--model {path}: serve "
                + $"needs an exported .onnx model (anomalysharp export --format onnx)");
            // Unset options keep ServerOptions' defaults; ServerOptions.Validate (run by StartAsync) checks the ranges.
            var defaults = new Serving.ServerOptions { ModelPath = path };
            double seconds = CommandOptions.Finite(p.GetValue(bodyTimeout), "--body-timeout") ?? defaults.BodyTimeout.TotalSeconds;
            var options = defaults with
            {
                Host = p.GetValue(host) ?? defaults.Host,
                Port = p.GetValue(port) ?? defaults.Port,
                Sessions = p.GetValue(sessions) ?? defaults.Sessions,
                ThreadsPerSession = p.GetValue(threads) ?? 0,
                MaxRequestBytes = CommandOptions.Finite(p.GetValue(maxMb),
                    "--max-request-mb") is { } mb ? (long)(mb * 1048576) : defaults.MaxRequestBytes,
                QueueLength = p.GetValue(queue) ?? defaults.QueueLength,
                Uploads = p.GetValue(uploads) ?? defaults.Uploads,
                MinUploadBytesPerSecond = (CommandOptions.Finite(p.GetValue(minRate),
                    "--min-upload-kbps") ?? defaults.MinUploadBytesPerSecond / 1024) * 1024,
                BodyTimeout = TimeSpan.FromSeconds(seconds),
            };
            using var cancel = new CancellationTokenSource();
            // Ctrl-C and SIGTERM reach the web host's lifetime, which ends WaitAsync.
            Serving.AnomalyServer server;
            try { server = Serving.AnomalyServer.StartAsync(options).GetAwaiter().GetResult(); }
            catch (ArgumentException e) { throw new AnomalySharpException(e.Message, e); }
            if (server.ThreadWarning != null) Console.Error.WriteLine("warning: " + server.ThreadWarning);
            Console.WriteLine($"serving {server.Detector.ModelName} ({server.Detector.ImageHeight}x{server.Detector.ImageWidth} px, "
                + $"{options.Sessions} sessions x {server.ThreadsPerSession} threads) on {server.Address} (Ctrl-C to stop)");
            server.WaitAsync(cancel.Token).GetAwaiter().GetResult();
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            Console.WriteLine("stopped");
            return 0;
        });
        return cmd;
    }
}
