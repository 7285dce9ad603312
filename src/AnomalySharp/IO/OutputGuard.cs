namespace AnomalySharp.IO;

/// <summary>
/// Refuses outputs that would destroy what a command reads: an output that is, contains or lies inside any of its
/// inputs (with or without overwriting), and replacing a folder or file that does not look like one of our outputs.
/// Paths are compared after resolving symbolic links and <c>..</c> component by component, as the file system does.
/// </summary>
internal static class OutputGuard
{
    /// <summary>One input of a command: its path and what it is (for messages, e.g. "data folder").</summary>
    public readonly record struct Input(string? Path, string What);

    /// <summary>
    /// Throws when <paramref name="output"/> is, contains or lies inside an input. Inputs whose path is null are
    /// ignored; inputs that do not exist are compared by their resolved path all the same.
    /// </summary>
    /// <remarks>
    /// The output must name one place (<see cref="CheckUnambiguous"/>), and each input is compared in both of its readings,
    /// so that what is checked is what is written and what is read, whichever API opens it.
    /// </remarks>
    public static void CheckNotInput(string output, string outputWhat, params Input[] inputs)
    {
        string o = CheckUnambiguous(output, outputWhat);
        foreach (var input in inputs)
        {
            if (string.IsNullOrEmpty(input.Path)) continue;
            foreach (string i in new[] { Resolve(input.Path), ResolveNormalized(input.Path) }.Distinct(StringComparer.Ordinal))
            {
                Compare(o, outputWhat, i, $"the {input.What} {i}");
                foreach (var (link, target) in LinksInside(i))
                    Compare(o, outputWhat, target, $"{target}, which the {input.What} {i} reads through its link {link}");
            }
        }
    }

    static void Compare(string output, string outputWhat, string input, string inputText)
    {
        string? relation = output == input ? "is" : IsInside(output, input) ? "lies inside" : IsInside(input, output) ? "contains" : null;
        if (relation != null)
            throw new AnomalySharpException($"{outputWhat} {output} {relation} {inputText}: writing there could destroy an input; "
                + $"choose an output outside every input");
    }

    /// <summary>The most entries of an input folder searched for symbolic links (a folder larger than any dataset).</summary>
    const int LinkSearchLimit = 200_000;

    /// <summary>
    /// The symbolic links inside an input folder (followed into linked folders, as a recursive read follows them) with
    /// their resolved targets: what a command reads through them is an input too.
    /// </summary>
    static IEnumerable<(string Link, string Target)> LinksInside(string folder)
    {
        if (!Directory.Exists(folder)) yield break;
        var options = new EnumerationOptions
        {
            RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = 0,
            MaxRecursionDepth = 32
        };
        int seen = 0;
        var targets = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in new DirectoryInfo(folder).EnumerateFileSystemInfos("*", options))
        {
            if (++seen > LinkSearchLimit) yield break;
            if (entry.LinkTarget == null) continue;
            string target = Resolve(entry.FullName);
            if (targets.Add(target)) yield return (entry.FullName, target);
        }
    }

    /// <summary>
    /// Returns the resolved path when <paramref name="path"/> means one place, and throws when it means two: a ".." after
    /// a symbolic link is the link target's parent to the kernel (<see cref="Resolve(string)"/>), but .NET's file APIs
    /// normalize the path first and drop the link with it (<see cref="ResolveNormalized"/>). A command that checked one
    /// and wrote the other could replace an input, so such a path is refused rather than guessed at.
    /// </summary>
    public static string CheckUnambiguous(string path, string what)
    {
        string kernel = Resolve(path);
        string normalized = ResolveNormalized(path);
        if (kernel != normalized)
            throw new AnomalySharpException($"{what} {path} names two places: {kernel} as the system follows its symbolic link before "
                + $"\"..\", {normalized} as .NET normalizes it; write the path without \"..\" after a link");
        return kernel;
    }

    /// <summary>The path as .NET's file APIs open it: ".." and "." applied to the text first, then symbolic links followed.</summary>
    public static string ResolveNormalized(string path) => Resolve(System.IO.Path.GetFullPath(path));

    /// <summary>
    /// Throws unless an existing folder may be replaced: it is empty, or holds one of <paramref name="markers"/>
    /// (file or folder names written by our own commands).
    /// </summary>
    public static void CheckReplaceableFolder(string folder, params string[] markers)
    {
        if (!Directory.Exists(folder)) return;
        if (!Directory.EnumerateFileSystemEntries(folder).Any()) return;
        if (markers.Any(m => File.Exists(System.IO.Path.Combine(folder, m)) || Directory.Exists(System.IO.Path.Combine(folder, m)))) return;
        throw new AnomalySharpException($"{System.IO.Path.GetFullPath(folder)} does not look like an AnomalySharp output (none of "
            + $"{string.Join(", ", markers)} in it); not replaced even with {OptionText.Name("overwrite")}: remove it yourself or "
                + $"choose another output");
    }

    /// <summary>True when <paramref name="path"/> lies strictly inside <paramref name="folder"/> (both resolved).</summary>
    static bool IsInside(string path, string folder)
    {
        string prefix = folder.EndsWith(System.IO.Path.DirectorySeparatorChar) ? folder : folder + System.IO.Path.DirectorySeparatorChar;
        return path.StartsWith(prefix, PathComparison);
    }

    static StringComparison PathComparison
        => OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <summary>
    /// The absolute path with every symbolic link resolved and "." / ".." applied after the link before them is
    /// followed (as the kernel does); components that do not exist yet are kept as written.
    /// </summary>
    public static string Resolve(string path) => Resolve(path, 0);

    static string Resolve(string path, int depth)
    {
        if (depth > 40) throw new AnomalySharpException($"{path}: too many levels of symbolic links");
        string absolute = System.IO.Path.IsPathRooted(path) ? path : System.IO.Path.Combine(Directory.GetCurrentDirectory(), path);
        string root = System.IO.Path.GetPathRoot(absolute)!;
        string current = root;
        var parts = absolute[root.Length..].Split(new[] { System.IO.Path.DirectorySeparatorChar, System.IO.Path.AltDirectorySeparatorChar },
            StringSplitOptions.RemoveEmptyEntries);
        foreach (string part in parts)
        {
            if (part == ".") continue;
            if (part == "..") { current = System.IO.Path.GetDirectoryName(current) ?? root; continue; }
            string next = System.IO.Path.Combine(current, part);
            FileSystemInfo info = new FileInfo(next);
            if (info.LinkTarget is { } target)
            {
                string targetPath = System.IO.Path.IsPathRooted(target) ? target : System.IO.Path.Combine(current, target);
                next = Resolve(targetPath, depth + 1);
            }
            current = next;
        }
        return current.Length > root.Length ? current.TrimEnd(System.IO.Path.DirectorySeparatorChar) : current;
    }
}
