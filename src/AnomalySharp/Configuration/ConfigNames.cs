using System.Text;

namespace AnomalySharp.Configuration;

/// <summary>
/// Configuration modes as enums: a key's snake_case value ("holdout_loss") is the member of the same name in
/// PascalCase (HoldoutLoss). A mode is parsed once where the options are read, with an error naming the key and its
/// allowed values, and compared as an enum from then on.
/// </summary>
public static class ConfigNames
{
    /// <summary>The configuration's name of an enum member: HoldoutLoss → holdout_loss, Float16 → float16.</summary>
    public static string ConfigName<T>(this T value) where T : struct, Enum
    {
        string name = value.ToString();
        var s = new StringBuilder(name.Length + 4);
        for (int i = 0; i < name.Length; i++)
        {
            if (i > 0 && char.IsUpper(name[i])) s.Append('_');
            s.Append(char.ToLowerInvariant(name[i]));
        }
        return s.ToString();
    }

    /// <summary>Every allowed configuration value of <typeparamref name="T"/>, in declaration order.</summary>
    public static IReadOnlyList<string> Of<T>() where T : struct, Enum => Enum.GetValues<T>().Select(v => v.ConfigName()).ToList();

    /// <summary>The member whose configuration name is <paramref name="text"/>, or null.</summary>
    public static T? Parse<T>(string text) where T : struct, Enum
    {
        foreach (var v in Enum.GetValues<T>())
            if (v.ConfigName() == text) return v;
        return null;
    }

    /// <summary>Reads <paramref name="key"/> as a mode.</summary>
    /// <exception cref="AnomalySharpException">The value is none of the mode's names; the message lists them.</exception>
    public static T GetEnum<T>(this ConfigTree config, string key) where T : struct, Enum
    {
        config.Note(key, "one of " + string.Join(", ", Of<T>()));
        string s = config.GetString(key);
        return Parse<T>(s) ?? throw new AnomalySharpException($"config key '{key}': '{s}' is not one of {string.Join(", ", Of<T>())}");
    }
}
