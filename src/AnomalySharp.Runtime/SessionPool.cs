using System.Collections.Concurrent;
using Microsoft.ML.OnnxRuntime;

namespace AnomalySharp.Runtime;

/// <summary>A fixed pool of ONNX Runtime sessions of one model; callers wait for a free one.</summary>
public sealed class SessionPool : IDisposable
{
    readonly ConcurrentBag<InferenceSession> _free = new();
    readonly List<InferenceSession> _all = new();
    readonly SemaphoreSlim _available;

    /// <summary>Creates <paramref name="count"/> sessions of the model bytes, <paramref name="threadsPerSession"/> threads each (0 = every
    /// core).</summary>
    public SessionPool(byte[] model, int count, int threadsPerSession)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), "need at least one session");
        for (int i = 0; i < count; i++)
        {
            using var options = ComputeThreads.SessionOptions(threadsPerSession);
            var session = new InferenceSession(model, options);
            _all.Add(session);
            _free.Add(session);
        }
        _available = new SemaphoreSlim(count, count);
    }

    /// <summary>The first session (for metadata and input/output names).</summary>
    public InferenceSession Any => _all[0];

    /// <summary>Runs <paramref name="work"/> with a session of its own.</summary>
    public T Run<T>(Func<InferenceSession, T> work)
    {
        _available.Wait();
        _free.TryTake(out var session);
        try { return work(session!); }
        finally { _free.Add(session!); _available.Release(); }
    }

    /// <summary>Runs <paramref name="work"/> once on every session in turn (to warm them all up).</summary>
    public void ForEach(Action<InferenceSession> work)
    {
        foreach (var session in _all) work(session);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var s in _all) s.Dispose();
        _available.Dispose();
    }
}
