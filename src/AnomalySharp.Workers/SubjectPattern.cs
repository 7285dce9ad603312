namespace AnomalySharp.Workers;

/// <summary>
/// A NATS subject pattern: tokens separated by dots, <c>*</c> matching one token and a final <c>&gt;</c> matching one or
/// more. Used to choose the model of a frame by its subject (<c>--model-for 'frames.line2.&gt;=line2.onnx'</c>).
/// </summary>
public sealed class SubjectPattern
{
    readonly string[] _tokens;

    /// <summary>The pattern as written.</summary>
    public string Text { get; }

    /// <summary>Parses a pattern.</summary>
    /// <exception cref="ArgumentException">Empty tokens, or a <c>&gt;</c> that is not the last token.</exception>
    public SubjectPattern(string text)
    {
        Text = text;
        _tokens = text.Split('.');
        for (int i = 0; i < _tokens.Length; i++)
        {
            if (_tokens[i].Length == 0) throw new ArgumentException($"subject pattern '{text}' has an empty token");
            if (_tokens[i] == ">" && i != _tokens.Length - 1) throw new ArgumentException($"subject pattern '{text}': '>' must be the "
                + $"last token");
            if (_tokens[i].Any(char.IsWhiteSpace)) throw new ArgumentException($"subject pattern '{text}' contains white space");
        }
    }

    /// <summary>Whether a concrete subject matches.</summary>
    public bool Matches(string subject)
    {
        string[] s = subject.Split('.');
        for (int i = 0; i < _tokens.Length; i++)
        {
            if (_tokens[i] == ">") return s.Length > i;
            if (i >= s.Length) return false;
            if (_tokens[i] != "*" && _tokens[i] != s[i]) return false;
        }
        return s.Length == _tokens.Length;
    }

    /// <inheritdoc />
    public override string ToString() => Text;
}
