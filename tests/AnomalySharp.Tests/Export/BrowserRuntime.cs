using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using OpenQA.Selenium.Support.UI;

namespace AnomalySharp.Tests.Export;

/// <summary>
/// onnxruntime-web (WebAssembly, one thread) from the npm registry, in headless Chromium (Debian's chromium and
/// chromium-driver): a local HTTP server gives the page the runtime's files, the jobs' models and inputs, and takes the
/// outputs back, so the browser computes and nothing leaves the machine.
/// </summary>
internal static class BrowserRuntime
{
    const string Page = """
        <!doctype html><meta charset="utf-8"><title>running</title>
        <script src="/ort/BUNDLE"></script>
        <script>
        (async () => {
          try {
            ort.env.wasm.numThreads = 1;
            ort.env.wasm.wasmPaths = location.origin + '/ort/';
            const jobs = await (await fetch('/jobs.json')).json();
            for (const [k, job] of jobs.entries()) {
              const model = new Uint8Array(await (await fetch('/model/' + k)).arrayBuffer());
              const s = await ort.InferenceSession.create(model, { executionProviders: ['wasm'] });
              const all = new Float32Array(await (await fetch('/inputs/' + k)).arrayBuffer());
              const one = 3 * job.size * job.size, parts = [];
              for (let i = 0; i < job.count; i++) {
                const r = await s.run({ image: new ort.Tensor('float32', all.slice(i * one, (i + 1) * one), [1, 3, job.size, job.size]) });
                parts.push(new Float32Array(r.score.data), new Float32Array(r.anomaly_map.data));
              }
              const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
              let at = 0;
              for (const p of parts) { out.set(p, at); at += p.length; }
              await fetch('/result/' + k, { method: 'POST', body: out });
            }
            document.title = 'done';
          } catch (e) { document.title = 'error: ' + e; }
        })();
        </script>
        """;

    /// <summary>Runs the jobs in onnxruntime-web <paramref name="version"/> inside Chromium; returns its version line.</summary>
    public static string Run(string version, IReadOnlyList<ForeignRuntimes.Job> jobs)
    {
        string dist = Path.Combine(ForeignRuntimes.NpmInstall("onnxruntime-web", version), "onnxruntime-web", "dist");
        string bundle = File.Exists(Path.Combine(dist, "ort.wasm.min.js")) ? "ort.wasm.min.js" : "ort.min.js";
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback,
            0)) { probe.Start(); port = ((IPEndPoint)probe.LocalEndpoint).Port; probe.Stop(); }
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        using var stop = new CancellationTokenSource();
        var serving = Task.Run(() => Serve(listener, dist, Page.Replace("BUNDLE", bundle), jobs, stop.Token));

        using (var driver = Serving.HeadlessChromium.Start())
        {
            driver.Navigate().GoToUrl($"http://127.0.0.1:{port}/index.html");
            new WebDriverWait(driver, TimeSpan.FromMinutes(5)).Until(d => d.Title == "done" || d.Title.StartsWith("error",
                StringComparison.Ordinal));
            Assert.True(driver.Title == "done", $"onnxruntime-web {version} in Chromium: {driver.Title}");
        }
        stop.Cancel();
        listener.Stop();
        try { serving.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        string package = File.ReadAllText(Path.Combine(dist, "..", "package.json"));
        return "onnxruntime-web " + (string?)JsonNode.Parse(package)!["version"];
    }

    static async Task Serve(HttpListener listener, string dist, string page, IReadOnlyList<ForeignRuntimes.Job> jobs,
        CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try { context = await listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { return; }
            var response = context.Response;
            try
            {
                string path = context.Request.Url!.AbsolutePath;
                string[] parts = path.Trim('/').Split('/');
                byte[]? body = null;
                string type = "application/octet-stream";
                if (path == "/index.html") (body, type) = (Encoding.UTF8.GetBytes(page), "text/html; charset=utf-8");
                else if (path == "/jobs.json")
                    (body, type) = (Encoding.UTF8.GetBytes(new JsonArray(jobs.Select(j
                        => (JsonNode?)new JsonObject { ["count"] = j.Count, ["size"] = j.Size }).ToArray()).ToJsonString()),
                            "application/json");
                else if (parts is ["model", var m]) body = File.ReadAllBytes(jobs[int.Parse(m)].Model);
                else if (parts is ["inputs", var i]) body = File.ReadAllBytes(jobs[int.Parse(i)].Inputs);
                else if (parts is ["result", var r] && context.Request.HttpMethod == "POST")
                {
                    using (var file = File.Create(jobs[int.Parse(r)].Output)) await context.Request.InputStream.CopyToAsync(file);
                    body = Array.Empty<byte>();
                }
                else if (parts is ["ort", var name] && !name.Contains("..") && File.Exists(Path.Combine(dist, name)))
                {
                    body = File.ReadAllBytes(Path.Combine(dist, name));
                    type = name.EndsWith(".wasm", StringComparison.Ordinal) ? "application/wasm"
                        : name.EndsWith(".js", StringComparison.Ordinal) || name.EndsWith(".mjs",
                            StringComparison.Ordinal) ? "text/javascript" : type;
                }
                if (body == null) response.StatusCode = 404;
                else
                {
                    response.ContentType = type;
                    response.ContentLength64 = body.Length;
                    await response.OutputStream.WriteAsync(body);
                }
            }
            catch (Exception e) when (e is IOException or HttpListenerException) { }
            finally { try { response.Close(); } catch (ObjectDisposedException) { } }
        }
    }
}
