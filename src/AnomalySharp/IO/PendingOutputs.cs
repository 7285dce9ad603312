namespace AnomalySharp.IO;

/// <summary>
/// Outputs being written right now (staging folders, temporary files) and how to remove each. A process that must
/// stop at once (a second Ctrl-C, or a first one whose work does not unwind in time) calls <see cref="AbortAll"/>
/// before it exits, so an interrupted command leaves nothing half-written. Moving a finished output into place runs
/// through <see cref="Commit"/>, under the same lock, so an abort never lands between deleting and moving. Work that
/// is worth finishing once begun (a training step and the checkpoint after it) runs under <see cref="Protect"/>: a
/// deadline waits for it (<see cref="WaitForProtected"/>) before it aborts.
/// </summary>
internal static class PendingOutputs
{
    static readonly object Gate = new();
    static readonly Dictionary<long, Action> Cleanups = new();
    static long _next;
    static bool _aborted;
    static int _protected;

    /// <summary>Registers how to remove a pending output; dispose the result once the output is committed or removed.</summary>
    public static IDisposable Register(Action cleanup)
    {
        lock (Gate)
        {
            long id = ++_next;
            Cleanups[id] = cleanup;
            return new Registration(id);
        }
    }

    /// <summary>A temporary file removed on abort.</summary>
    public static IDisposable RegisterFile(string path) => Register(()
        =>
    { try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { } });

    /// <summary>Runs the move that publishes an output, unless the process is aborting.</summary>
    /// <exception cref="OperationCanceledException">An abort has begun; nothing was moved.</exception>
    public static void Commit(Action publish)
    {
        lock (Gate)
        {
            if (_aborted) throw new OperationCanceledException("stopping: output not published");
            publish();
        }
    }

    /// <summary>
    /// Marks work in hand that an orderly stop should let finish (a training step whose checkpoint follows); dispose
    /// the result when it is done. A deadline waits for it through <see cref="WaitForProtected"/>; an abort does not.
    /// </summary>
    public static IDisposable Protect()
    {
        lock (Gate) _protected++;
        return new Protection();
    }

    /// <summary>
    /// Waits until no <see cref="Protect"/>ed work is in hand, at most <paramref name="limit"/>: <see
    /// cref="ProtectedWait.None"/> when none was, <see cref="ProtectedWait.Ended"/> when it ended in time, <see
    /// cref="ProtectedWait.TimedOut"/> when some still is at the limit.
    /// </summary>
    public static ProtectedWait WaitForProtected(TimeSpan limit)
    {
        var until = DateTime.UtcNow + limit;
        lock (Gate)
        {
            if (_protected == 0) return ProtectedWait.None;
            while (_protected > 0)
            {
                var left = until - DateTime.UtcNow;
                if (left <= TimeSpan.Zero) return ProtectedWait.TimedOut;
                Monitor.Wait(Gate, left);
            }
            return ProtectedWait.Ended;
        }
    }

    /// <summary>
    /// Whether nothing is pending or protected right now: a process stopped in this state loses nothing by ending at once
    /// (a command still loading its model or reading its images).
    /// </summary>
    public static bool IsIdle
    {
        get { lock (Gate) return Cleanups.Count == 0 && _protected == 0; }
    }

    /// <summary>Removes every pending output (best effort) and refuses later commits. Safe to call from any thread.</summary>
    public static void AbortAll()
    {
        Action[] actions;
        lock (Gate)
        {
            _aborted = true;
            actions = Cleanups.Values.ToArray();
            Cleanups.Clear();
        }
        foreach (var a in actions.Reverse())
            try { a(); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>Deletes a folder, retrying while a writer still creates files in it.</summary>
    public static void DeleteFolder(string path)
    {
        for (int attempt = 0; attempt < 5 && Directory.Exists(path); attempt++)
            try { Directory.Delete(path, recursive: true); }
            catch (IOException) { Thread.Sleep(20); }
            catch (UnauthorizedAccessException) { return; }
    }

    sealed class Registration(long id) : IDisposable
    {
        public void Dispose() { lock (Gate) Cleanups.Remove(id); }
    }

    sealed class Protection : IDisposable
    {
        int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            lock (Gate)
            {
                _protected--;
                Monitor.PulseAll(Gate);
            }
        }
    }
}
