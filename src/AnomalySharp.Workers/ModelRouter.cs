using System.Security.Cryptography;
using AnomalySharp.Runtime;

namespace AnomalySharp.Workers;

/// <summary>The exported models of a worker, and which one scores a subject. Each model is loaded once.</summary>
public sealed class ModelRouter : IDisposable
{
    /// <summary>A loaded model: its detector and version (the first 12 hex digits of the file's SHA-256).</summary>
    public sealed record Entry(string Path, OnnxAnomalyDetector Detector, string Version);

    readonly List<(SubjectPattern Pattern, Entry Model)> _routes = new();
    readonly List<Entry> _loaded = new();

    /// <summary>The model of subjects no pattern matches.</summary>
    public Entry Default { get; }

    /// <summary>Loads every model named.</summary>
    /// <exception cref="ModelLoadException">A file is missing or not an AnomalySharp export.</exception>
    public ModelRouter(WorkerOptions options, DetectorOptions detectorOptions)
    {
        try
        {
            Default = Load(options.Model, detectorOptions);
            foreach (var (pattern, path) in options.ModelsFor) _routes.Add((pattern, Load(path, detectorOptions)));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    Entry Load(string path, DetectorOptions detectorOptions)
    {
        string full = System.IO.Path.GetFullPath(path);
        var existing = _loaded.FirstOrDefault(e => e.Path == full);
        if (existing != null) return existing;
        byte[] bytes = OnnxAnomalyDetector.ReadModel(path);
        var entry = new Entry(full, new OnnxAnomalyDetector(bytes, path, detectorOptions),
            Convert.ToHexStringLower(SHA256.HashData(bytes))[..12]);
        _loaded.Add(entry);
        return entry;
    }

    /// <summary>The model for a subject.</summary>
    public Entry For(string subject)
    {
        foreach (var (pattern, model) in _routes)
            if (pattern.Matches(subject)) return model;
        return Default;
    }

    /// <summary>Every distinct model.</summary>
    public IReadOnlyList<Entry> Models => _loaded;

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var e in _loaded) e.Detector.Dispose();
        _loaded.Clear();
    }
}
