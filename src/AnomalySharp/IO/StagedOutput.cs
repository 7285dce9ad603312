namespace AnomalySharp.IO;

/// <summary>
/// An output folder written in a hidden sibling and moved into place only on <see cref="Commit"/>, so a failure or an
/// interruption never leaves a half-written result. An existing folder is refused unless overwriting is asked for, and
/// even then only when it looks like one of our outputs (it is empty or holds one of the marker files). Replacing is a
/// rename of the old folder aside, a rename of the new one into place, then deleting the old: the old result stays
/// whole until the new one is there.
/// </summary>
internal sealed class StagedOutput : IDisposable
{
    readonly string _final;
    readonly bool _overwrite;
    readonly string[] _markers;
    readonly IDisposable _pending;
    bool _committed;

    /// <summary>The folder to write into now.</summary>
    public string Path { get; }

    /// <summary>Checks the destination and creates the staging folder.</summary>
    /// <param name="destination">The output folder.</param>
    /// <param name="overwrite">Whether an existing output folder may be replaced.</param>
    /// <param name="markers">Names of which one must be in an existing non-empty folder for it to be replaced.</param>
    public StagedOutput(string destination, bool overwrite, params string[] markers)
    {
        OutputGuard.CheckUnambiguous(destination, "output");
        _final = System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(destination));
        _overwrite = overwrite;
        _markers = markers.Length > 0 ? markers : new[] { "results.json" };
        if (File.Exists(_final)) throw new AnomalySharpException($"output {_final} is a file, not a folder");
        if (Directory.Exists(_final))
        {
            if (!overwrite) throw new AnomalySharpException($"output folder {_final} already exists (use "
                + $"{OptionText.Name("overwrite")} to replace it)");
            OutputGuard.CheckReplaceableFolder(_final, _markers);
        }
        string parent = System.IO.Path.GetDirectoryName(_final)!;
        Path = System.IO.Path.Combine(parent, "." + System.IO.Path.GetFileName(_final) + ".partial-" + Guid.NewGuid().ToString("N")[..8]);
        // Registered before it exists: a process that stops at once between the two leaves no staging folder behind.
        string staging = Path;
        _pending = PendingOutputs.Register(() => PendingOutputs.DeleteFolder(staging));
        try
        {
            Directory.CreateDirectory(parent);
            Directory.CreateDirectory(Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _pending.Dispose();
            throw new AnomalySharpException($"cannot write output {_final}: {e.Message}", e);
        }
    }

    /// <summary>Moves the staged folder into place (replacing an old one when overwriting).</summary>
    public string Commit()
    {
        PendingOutputs.Commit(() =>
        {
            string? aside = null;
            if (Directory.Exists(_final))
            {
                if (!_overwrite) throw new AnomalySharpException($"output folder {_final} appeared while running; not replaced");
                OutputGuard.CheckReplaceableFolder(_final, _markers);
                aside = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(_final)!,
                    "." + System.IO.Path.GetFileName(_final) + ".replaced-" + Guid.NewGuid().ToString("N")[..8]);
                Directory.Move(_final, aside);
            }
            try { Directory.Move(Path, _final); }
            catch
            {
                if (aside != null) Directory.Move(aside, _final);
                throw;
            }
            _committed = true;
            if (aside != null) PendingOutputs.DeleteFolder(aside);
        });
        _pending.Dispose();
        return _final;
    }

    /// <summary>
    /// Removes the staging folders that writers of <paramref name="destination"/> killed before they could clean up left
    /// beside it (a child process killed by its stopping parent). The destination itself is left as it is.
    /// </summary>
    public static void RemoveStaging(string destination)
    {
        string final = System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(destination));
        string? parent = System.IO.Path.GetDirectoryName(final);
        if (parent == null || !Directory.Exists(parent)) return;
        foreach (string dir in Directory.EnumerateDirectories(parent, "." + System.IO.Path.GetFileName(final) + ".partial-*"))
            PendingOutputs.DeleteFolder(dir);
    }

    /// <summary>Removes the staging folder when not committed.</summary>
    public void Dispose()
    {
        if (!_committed) PendingOutputs.DeleteFolder(Path);
        _pending.Dispose();
    }
}
