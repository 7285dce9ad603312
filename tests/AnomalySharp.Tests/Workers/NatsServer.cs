using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AnomalySharp.Tests.Workers;

/// <summary>A real nats-server (Debian's, 2.9) with JetStream, on a free loopback port, its store in a temporary folder.</summary>
internal sealed class NatsServer : IDisposable
{
    const string Binary = "/usr/sbin/nats-server";
    readonly Process _process;
    readonly StringBuilder _log = new();

    public int Port { get; }
    public string Url => $"nats://127.0.0.1:{Port}";
    public string Log { get { lock (_log) return _log.ToString(); } }

    NatsServer(int port, IEnumerable<string> extra, string name)
    {
        Assert.True(File.Exists(Binary), "nats-server missing: apt-get install nats-server (build/test.sh installs it)");
        Port = port;
        var psi = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { "-js", "-sd", TestPaths.TempDir("nats-" + name), "-a", "127.0.0.1", "-p", port.ToString(), "-n", name }.Concat(extra))
            psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (_log) _log.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (_log) _log.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>One server.</summary>
    public static NatsServer Start()
    {
        var server = new NatsServer(FreePort(), Array.Empty<string>(), "single");
        server.WaitReady();
        return server;
    }

    /// <summary>Three servers routed into one cluster (JetStream replicas need three).</summary>
    public static NatsServer[] StartCluster()
    {
        int[] client = { FreePort(), FreePort(), FreePort() }, cluster = { FreePort(), FreePort(), FreePort() };
        string routes = string.Join(",", cluster.Select(p => $"nats://127.0.0.1:{p}"));
        var servers = Enumerable.Range(0, 3).Select(i => new NatsServer(client[i],
            new[] { "--cluster_name", "inspection", "--cluster", $"nats://127.0.0.1:{cluster[i]}", "--routes", routes }, $"n{i + 1}")).ToArray();
        foreach (var s in servers) s.WaitReady();
        return servers;
    }

    void WaitReady()
    {
        var clock = Stopwatch.StartNew();
        while (!Log.Contains("Server is ready", StringComparison.Ordinal))
        {
            if (_process.HasExited) Assert.Fail($"nats-server exited with {_process.ExitCode}:\n{Log}");
            if (clock.Elapsed > TimeSpan.FromSeconds(20)) Assert.Fail($"nats-server not ready in 20 s:\n{Log}");
            Thread.Sleep(50);
        }
    }

    /// <summary>Kills the server with SIGKILL, as a crashed machine.</summary>
    public void Kill()
    {
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
        _process.Dispose();
    }
}
