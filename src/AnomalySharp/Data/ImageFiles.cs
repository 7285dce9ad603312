namespace AnomalySharp.Data;

/// <summary>Which files count as images, and listing them in a stable order.</summary>
internal static class ImageFiles
{
    /// <summary>Extensions decoded by <see cref="ImageIO"/>.</summary>
    public static readonly IReadOnlySet<string> Extensions =
        new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif" };

    /// <summary>The accepted extensions for messages: "png, jpg, jpeg, bmp, webp, gif".</summary>
    public static string Names => string.Join(", ", Extensions.Select(e => e.TrimStart('.')));

    /// <summary>True when the path has an image extension.</summary>
    public static bool IsImage(string path) => Extensions.Contains(Path.GetExtension(path));

    /// <summary>The image files directly in a folder, sorted by ordinal name.</summary>
    public static List<string> List(string folder) =>
        Directory.EnumerateFiles(folder).Where(IsImage).OrderBy(p => p, StringComparer.Ordinal).ToList();
}
