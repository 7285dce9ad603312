namespace AnomalySharp.Serving;

/// <summary>
/// Admission for the work of a request (reading the upload into memory, decoding, the model, rendering): at most
/// <c>slots</c> run at once, at most <c>queue</c> more wait, and any further request is refused at once (503) instead
/// of adding to memory. A waiting request that its client abandons leaves the queue.
/// </summary>
public sealed class RequestGate : IDisposable
{
    readonly SemaphoreSlim _slots;
    readonly int _queue;
    int _waiting, _running;

    /// <summary>Creates a gate.</summary>
    public RequestGate(int slots, int queue)
    {
        if (slots < 1) throw new ArgumentOutOfRangeException(nameof(slots));
        if (queue < 0) throw new ArgumentOutOfRangeException(nameof(queue));
        _slots = new SemaphoreSlim(slots, slots);
        _queue = queue;
    }

    /// <summary>Requests running now.</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>Requests waiting now.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>A slot (dispose it to give it back), or null when the queue is full.</summary>
    public async Task<IDisposable?> EnterAsync(CancellationToken cancel)
    {
        if (!_slots.Wait(0))
        {
            if (Interlocked.Increment(ref _waiting) > _queue) { Interlocked.Decrement(ref _waiting); return null; }
            try { await _slots.WaitAsync(cancel); }
            finally { Interlocked.Decrement(ref _waiting); }
        }
        Interlocked.Increment(ref _running);
        return new Slot(this);
    }

    sealed class Slot(RequestGate gate) : IDisposable
    {
        int _released;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) != 0) return;
            Interlocked.Decrement(ref gate._running);
            gate._slots.Release();
        }
    }

    /// <inheritdoc />
    public void Dispose() => _slots.Dispose();
}
