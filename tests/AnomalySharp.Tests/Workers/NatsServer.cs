using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AnomalySharp.Tests.Workers;

/// <summary>A real nats-server (Debian's, 2.9) with JetStream, on a free loopback port, its store in a temporary folder.</summary>
internal sealed class NatsServer : IDisposable
{
    const string Binary = "/usr/sbin/nats-server";
    readonly ProcessStartInfo _start;
    Process? _process;
    readonly StringBuilder _log = new();

    public int Port { get; }
    public string Url => $"nats://127.0.0.1:{Port}";
    public string Log { get { lock (_log) return _log.ToString(); } }

    NatsServer(int port, IEnumerable<string> extra, string name)
    {
        Assert.True(File.Exists(Binary), "nats-server missing: apt-get install nats-server (build/test.sh installs it)");
        Port = port;
        _start = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { "-js", "-sd", TestPaths.TempDir("nats-" + name), "-a", "127.0.0.1", "-p", port.ToString(), "-n",
            name }.Concat(extra))
            _start.ArgumentList.Add(a);
    }

    /// <summary>Starts the server process and waits until it says it is ready.</summary>
    public void Launch()
    {
        var process = _process = Process.Start(_start)!;
        process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (_log) _log.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (_log) _log.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        WaitReady(process);
    }

    /// <summary>One server.</summary>
    public static NatsServer Start()
    {
        var server = new NatsServer(FreePort(), Array.Empty<string>(), "single");
        server.Launch();
        return server;
    }

    /// <summary>
    /// Three servers routed into one cluster (JetStream replicas need three); the first <paramref name="launched"/>
    /// are started, the others wait for <see cref="Launch"/>.
    /// </summary>
    public static NatsServer[] StartCluster(int launched = 3)
    {
        int[] client = { FreePort(), FreePort(), FreePort() }, cluster = { FreePort(), FreePort(), FreePort() };
        string routes = string.Join(",", cluster.Select(p => $"nats://127.0.0.1:{p}"));
        var servers = Enumerable.Range(0, 3).Select(i => new NatsServer(client[i],
            new[] { "--cluster_name", "inspection", "--cluster", $"nats://127.0.0.1:{cluster[i]}", "--routes", routes },
                $"n{i + 1}")).ToArray();
        foreach (var s in servers.Take(launched)) s.Launch();
        return servers;
    }

    void WaitReady(Process process)
    {
        var clock = Stopwatch.StartNew();
        while (!Log.Contains("Server is ready", StringComparison.Ordinal))
        {
            if (process.HasExited) Assert.Fail($"nats-server exited with {process.ExitCode}:\n{Log}");
            if (clock.Elapsed > TimeSpan.FromSeconds(20)) Assert.Fail($"nats-server not ready in 20 s:\n{Log}");
            Thread.Sleep(50);
        }
    }

    /// <summary>Kills the server with SIGKILL, as a crashed machine.</summary>
    public void Kill()
    {
        if (_process == null) return;
        if (!_process.HasExited) _process.Kill();
        _process.WaitForExit();
    }

    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        Kill();
        _process?.Dispose();
    }
}
