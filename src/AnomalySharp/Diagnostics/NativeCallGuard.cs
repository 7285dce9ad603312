using System.Runtime;

namespace AnomalySharp.Diagnostics;

/// <summary>
/// Holds garbage collection off (a process-wide no-GC region, shared by nested and concurrent users) while batches
/// go through TorchSharp. TorchSharp 0.107 passes the handles of implicitly created <c>Scalar</c> objects to native
/// code without keeping the objects alive, so a collection on another thread during the call can finalize them
/// first: measured here, 1,140 of 2,000 calls failed ("Unknown scalar type") with a thread allocating beside them.
/// With no collection there is no finalization. Together with pooled, native-memory batch I/O (which keeps the
/// budget from running out) this closes the window for the batch loops; <see cref="Components.SafeOps"/> covers
/// the in-place updates that run outside them.
/// <para>
/// The guard is entered at one boundary, <see cref="HandOut{T}"/>: the hand-out of a batch to the code that works on
/// it. Both sources of batches go through it (the <see cref="Data.Batcher"/>, and the trainer's cache of frozen
/// features), so a model's <c>Fit</c>, <c>FrozenFeatures</c> and <c>Loss</c> and the optimizer step all run inside it,
/// and a plugin model never sees it.
/// </para>
/// </summary>
internal static class NativeCallGuard
{
    static readonly object Lock = new();
    static int _depth;
    static long _budget = 256L << 20;

    /// <summary>How often a loop over batches hands freed native memory back (see <see cref="Runtime.NativeHeap.ReleaseIfDue"/>).</summary>
    public static readonly TimeSpan TrimInterval = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Yields the batch each step makes, with the guard held from the making of the batch until the consumer asks for
    /// the next one. The work between batches (reading and decoding ahead, the consumer's own loop) runs unguarded.
    /// </summary>
    public static IEnumerable<T> HandOut<T>(IEnumerable<Func<T>> steps, bool trimBetween = false)
    {
        foreach (var make in steps)
        {
            using (Enter())
                yield return make();
            // With trimBetween, the batch's tensors are freed by now and glibc hands their pages back, every half
            // minute: it would keep them (it raises its mmap threshold once a large buffer is freed) and a long run would
            // grow. Not after every batch: the next batch faults every returned page in again (a third of a train's time).
            if (trimBetween) Runtime.NativeHeap.ReleaseIfDue(TrimInterval);
        }
    }

    /// <summary>Enters the guarded section; dispose to leave it (tests of single components use it directly).</summary>
    public static IDisposable Enter()
    {
        lock (Lock)
        {
            if (_depth++ == 0 && GCSettings.LatencyMode != GCLatencyMode.NoGCRegion)
            {
                try { GC.TryStartNoGCRegion(_budget); }
                catch (ArgumentOutOfRangeException)
                {
                    _budget /= 4;
                    try { GC.TryStartNoGCRegion(_budget); }
                    catch (ArgumentOutOfRangeException) { }
                }
                catch (InvalidOperationException) { } // already in a region started elsewhere
            }
        }
        return new Exit();
    }

    /// <summary>
    /// Runs <paramref name="collect"/> (a forced garbage collection) unless a guarded section is open on some thread,
    /// holding the guard's lock meanwhile so that none opens: a forced collection would end that section's no-GC region
    /// and expose its batch to the race. Returns whether it ran.
    /// </summary>
    public static bool CollectOutsideGuard(Action collect)
    {
        lock (Lock)
        {
            if (_depth != 0) return false;
            collect();
            return true;
        }
    }

    sealed class Exit : IDisposable
    {
        bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            lock (Lock)
            {
                if (--_depth == 0 && GCSettings.LatencyMode == GCLatencyMode.NoGCRegion)
                    try { GC.EndNoGCRegion(); } catch (InvalidOperationException) { } // ended by a collection meanwhile
            }
        }
    }
}
