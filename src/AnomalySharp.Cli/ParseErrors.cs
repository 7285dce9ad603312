using System.Text.RegularExpressions;

namespace AnomalySharp.Cli;

/// <summary>Parse errors in the user's words: "--seed: 'x' is not an integer", never a .NET type name.</summary>
internal static partial class ParseErrors
{
    public static string Explain(string message)
    {
        var m = CannotParse().Match(message);
        if (!m.Success) return message;
        string type = m.Groups["type"].Value;
        string kind = type.Contains("Int32", StringComparison.Ordinal) || type.Contains("Int64", StringComparison.Ordinal) ? "an integer"
            : type.Contains("Double", StringComparison.Ordinal) || type.Contains("Single", StringComparison.Ordinal) ? "a number"
            : type.Contains("Boolean", StringComparison.Ordinal) ? "true or false" : "a valid value";
        return $"{m.Groups["option"].Value}: '{m.Groups["value"].Value}' is not {kind}";
    }

    [GeneratedRegex("Cannot parse argument '(?<value>.*)' for option '(?<option>[^']+)' as expected type '(?<type>[^']+)'")]
    private static partial Regex CannotParse();
}
