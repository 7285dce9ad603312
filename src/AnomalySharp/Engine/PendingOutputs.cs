namespace AnomalySharp.Engine;

/// <summary>
/// Outputs being written right now (staging folders, temporary files) and how to remove each. A process that must
/// stop at once (a second Ctrl-C, or a first one whose work does not unwind in time) calls <see cref="AbortAll"/>
/// before it exits, so an interrupted command leaves nothing half-written. Moving a finished output into place runs
/// through <see cref="Commit"/>, under the same lock, so an abort never lands between deleting and moving.
/// </summary>
public static class PendingOutputs
{
    static readonly object Gate = new();
    static readonly Dictionary<long, Action> Cleanups = new();
    static long _next;
    static bool _aborted;

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
    public static IDisposable RegisterFile(string path) => Register(() => { try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { } });

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
}
