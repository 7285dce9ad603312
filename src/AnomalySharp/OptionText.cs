using System.Text.RegularExpressions;

namespace AnomalySharp;

/// <summary>
/// Names of options inside the library's messages. The library speaks of its own parameters (a C# caller never typed
/// <c>--overwrite</c>): <see cref="Name"/> marks a parameter in a message, <see cref="Library"/> renders it as the
/// parameter's name, and a front end renders it its own way (the command line: <c>--skip-bad-images</c> for
/// <c>skipBadImages</c>, see <see cref="CommandLine"/>).
/// </summary>
public static partial class OptionText
{
    const char Open = '\u27E6', Close = '\u27E7'; // ⟦ ⟧, never in a path or a user's text in practice

    /// <summary>Marks the library parameter <paramref name="parameter"/> (camelCase) in a message.</summary>
    public static string Name(string parameter) => $"{Open}{parameter}{Close}";

    /// <summary>The message with each marked parameter as the library names it (e.g. <c>skipBadImages</c>).</summary>
    public static string Library(string message) => Render(message, p => p);

    /// <summary>The message with each marked parameter as a command-line option (e.g. <c>--skip-bad-images</c>).</summary>
    public static string CommandLine(string message) => Render(message, p => "--" + Kebab().Replace(p, "-$1").ToLowerInvariant());

    /// <summary>The message with each marked parameter rendered by <paramref name="render"/>.</summary>
    public static string Render(string message, Func<string, string> render) =>
        Marker().Replace(message, m => render(m.Groups[1].Value));

    [GeneratedRegex("\u27E6([A-Za-z0-9]+)\u27E7")]
    private static partial Regex Marker();

    [GeneratedRegex("(?<=[a-z0-9])([A-Z])")]
    private static partial Regex Kebab();
}
