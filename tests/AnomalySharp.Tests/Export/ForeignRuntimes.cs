using System.Diagnostics;
using System.Text.Json.Nodes;

namespace AnomalySharp.Tests.Export;

/// <summary>
/// Other ONNX Runtimes than the product's, each in a process of its own (issue 39): onnxruntime-node from the npm
/// registry (installed once into ~/.cache/anomalysharp, never into the product) and an older NuGet ONNX Runtime
/// (tests/OrtCompat). Each runs a list of jobs: an exported model, count images [3,S,S] of float32 in a file, and an
/// output file that gets, per image, the score and then the map.
/// </summary>
internal static class ForeignRuntimes
{
    /// <summary>One model run over one input file.</summary>
    public sealed record Job(string Model, string Inputs, int Count, int Size, string Output);

    static string Cache(string name) =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "anomalysharp", name);

    /// <summary>Installs an npm package once into its own cache folder; returns that folder's node_modules.</summary>
    public static string NpmInstall(string package, string version)
    {
        Assert.True(File.Exists("/usr/bin/node") || File.Exists("/usr/local/bin/node"),
            "node is missing (build/test.sh installs nodejs and npm)");
        string folder = Cache($"{package}-{version}");
        string marker = Path.Combine(folder, "node_modules", package, "package.json");
        Directory.CreateDirectory(folder);
        // build/test.sh runs two test processes at once, and both may need the package: one installs, the other waits.
        using var installing = Lock(folder + ".lock");
        if (File.Exists(marker)) return Path.Combine(folder, "node_modules");
        // --ignore-scripts: the CPU binaries are in the package; onnxruntime-node's install script would fetch CUDA's from GitHub.
        var (code, _, err) = Execute("npm", new[] { "install", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix", folder,
            $"{package}@{version}" }, null, TimeSpan.FromMinutes(5));
        Assert.True(code == 0 && File.Exists(marker), $"npm install {package}@{version} failed: {err}");
        return Path.Combine(folder, "node_modules");
    }

    /// <summary>An exclusive lock on <paramref name="path"/> between processes (flock), waited for up to 10 minutes.</summary>
    static FileStream Lock(string path)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (clock.Elapsed < TimeSpan.FromMinutes(10)) { Thread.Sleep(200); }
        }
    }

    const string NodeScript = """
        const ort = require('onnxruntime-node');
        const fs = require('fs');
        (async () => {
          console.log('onnxruntime-node ' + require('onnxruntime-node/package.json').version);
          for (const job of JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))) {
            const s = await ort.InferenceSession.create(job.model);
            const all = new Float32Array(fs.readFileSync(job.inputs).buffer.slice(0));
            const one = 3 * job.size * job.size, parts = [];
            for (let i = 0; i < job.count; i++) {
              const r = await s.run({ image: new ort.Tensor('float32', all.slice(i * one, (i + 1) * one), [1, 3, job.size, job.size]) });
              parts.push(Buffer.from(new Float32Array(r.score.data).buffer), Buffer.from(new Float32Array(r.anomaly_map.data).buffer));
            }
            fs.writeFileSync(job.output, Buffer.concat(parts));
          }
        })().catch(e => { console.error(String(e)); process.exit(3); });
        """;

    /// <summary>Runs the jobs in onnxruntime-node <paramref name="version"/>; returns what it printed (its version line).</summary>
    public static string RunNode(string version, IReadOnlyList<Job> jobs, string dir)
    {
        string modules = NpmInstall("onnxruntime-node", version);
        string script = Path.Combine(dir, $"run-node-{version}.js"), list = WriteJobs(jobs, dir, $"node-{version}");
        File.WriteAllText(script, NodeScript);
        var (code, stdout, err) = Execute("node", new[] { script, list }, new Dictionary<string, string> { ["NODE_PATH"] = modules },
            TimeSpan.FromMinutes(5));
        Assert.True(code == 0, $"onnxruntime-node {version} exited {code} (136 is SIGFPE): {err}");
        return stdout.Trim();
    }

    /// <summary>Runs the jobs in tests/OrtCompat (NuGet Microsoft.ML.OnnxRuntime 1.20.1), built beside the tests.</summary>
    public static string RunNuGet(IReadOnlyList<Job> jobs, string dir)
    {
        string dll = Path.Combine(TestPaths.RepoRoot, "tests", "OrtCompat", "bin", "Release", "net10.0", "linux-x64", "OrtCompat.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: build the solution (dotnet build AnomalySharp.slnx -c Release)");
        var (code, stdout, err) = Execute("dotnet", new[] { dll, WriteJobs(jobs, dir, "nuget") }, null, TimeSpan.FromMinutes(5));
        Assert.True(code == 0, $"OrtCompat exited {code}: {err}");
        return stdout.Trim();
    }

    static string WriteJobs(IReadOnlyList<Job> jobs, string dir, string name)
    {
        string path = Path.Combine(dir, $"jobs-{name}.json");
        File.WriteAllText(path, new JsonArray(jobs.Select(j => (JsonNode?)new JsonObject
        {
            ["model"] = j.Model, ["inputs"] = j.Inputs, ["count"] = j.Count, ["size"] = j.Size, ["output"] = j.Output,
        }).ToArray()).ToJsonString());
        return path;
    }

    static (int Code, string Stdout, string Stderr) Execute(string program, string[] args, IReadOnlyDictionary<string,
        string>? environment, TimeSpan limit)
    {
        var psi = new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(limit)) { p.Kill(true); Assert.Fail($"{program} did not finish in {limit.TotalMinutes} minutes"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
