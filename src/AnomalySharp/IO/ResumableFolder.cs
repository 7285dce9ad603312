namespace AnomalySharp.IO;

/// <summary>
/// The output folder of a resumable command (a benchmark grid, a search, a grid cell), filled over time. A folder this
/// run created is removed again when the run fails or is interrupted before it holds anything worth resuming, so a
/// stopped command leaves either a folder to resume or nothing.
/// </summary>
internal sealed class ResumableFolder : IDisposable
{
    readonly string _path;
    readonly Func<bool> _hasProgress;
    readonly bool _created;
    readonly IDisposable? _pending;
    bool _done;

    /// <summary>Creates the folder if needed; <paramref name="hasProgress"/> says whether it holds finished work.</summary>
    public ResumableFolder(string path, Func<bool> hasProgress)
    {
        _path = Path.GetFullPath(path);
        _hasProgress = hasProgress;
        _created = !Directory.Exists(_path);
        // Registered before it exists: a process that stops at once between the two leaves no empty folder behind.
        if (_created) _pending = PendingOutputs.Register(RemoveIfEmpty);
        try { Directory.CreateDirectory(_path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _pending?.Dispose();
            throw new AnomalySharpException($"cannot write output {_path}: {e.Message}", e);
        }
    }

    /// <summary>The run finished: the folder stays whatever it holds.</summary>
    public void Complete() => _done = true;

    void RemoveIfEmpty()
    {
        if (_created && !_hasProgress()) PendingOutputs.DeleteFolder(_path);
    }

    /// <summary>Removes a folder this run created when it was not completed and holds no finished work.</summary>
    public void Dispose()
    {
        if (!_done) RemoveIfEmpty();
        _pending?.Dispose();
    }
}
