namespace AnomalySharp.Engine;

/// <summary>
/// An output folder written in a hidden sibling and moved into place only on <see cref="Commit"/>, so a failure
/// never leaves a half-written result. An existing folder is refused unless overwriting is asked for.
/// </summary>
public sealed class StagedOutput : IDisposable
{
    readonly string _final;
    readonly bool _overwrite;
    bool _committed;

    /// <summary>The folder to write into now.</summary>
    public string Path { get; }

    /// <summary>Checks the destination and creates the staging folder.</summary>
    public StagedOutput(string destination, bool overwrite)
    {
        _final = System.IO.Path.GetFullPath(destination);
        _overwrite = overwrite;
        if (File.Exists(_final)) throw new AnomalySharpException($"output {_final} is a file, not a folder");
        if (Directory.Exists(_final) && !overwrite)
            throw new AnomalySharpException($"output folder {_final} already exists (use --overwrite to replace it)");
        string parent = System.IO.Path.GetDirectoryName(_final)!;
        Directory.CreateDirectory(parent);
        Path = System.IO.Path.Combine(parent, "." + System.IO.Path.GetFileName(_final) + ".partial-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Path);
    }

    /// <summary>Moves the staged folder into place (replacing an old one when overwriting).</summary>
    public string Commit()
    {
        if (Directory.Exists(_final))
        {
            if (!_overwrite) throw new AnomalySharpException($"output folder {_final} appeared while running; not replaced");
            Directory.Delete(_final, recursive: true);
        }
        Directory.Move(Path, _final);
        _committed = true;
        return _final;
    }

    /// <summary>Removes the staging folder when not committed.</summary>
    public void Dispose()
    {
        if (!_committed && Directory.Exists(Path))
            try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
