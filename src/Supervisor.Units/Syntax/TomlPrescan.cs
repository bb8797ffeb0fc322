namespace Supervisor.Units.Syntax;

/// <summary>
/// A cheap pass over the text before the TOML parser sees it, refusing what would cost the
/// parser (or the code after it) more than linear time or more stack than it has:
/// <list type="bullet">
/// <item>Tomlyn's parser is recursive: a value like <c>[[[[...]]]]</c> nested a million deep
/// would overflow the stack and kill the process, which no catch can stop. Nesting is refused
/// past <see cref="Limits.MaxNestingDepth"/> (header brackets count too; they add at most 2).</item>
/// <item>Tables of tens of thousands of keys take seconds to parse (in Tomlyn and after it):
/// keys are counted per [Section], per inline table and per file
/// (<see cref="Limits.MaxKeysPerTable"/>, <see cref="Limits.MaxKeysPerFile"/>).</item>
/// </list>
/// Strings and comments are skipped; a key is counted at its "=", which TOML allows nowhere else.
/// </summary>
internal static class TomlPrescan
{
    /// <summary>A bracket still open: '[' or '{', and for '{' the keys seen in it so far.</summary>
    private record struct Open(char Kind, int Keys);

    /// <summary>The first problem, as an offset into the text and a message; null when there is none.</summary>
    public static (int Offset, string Message)? Check(string text)
    {
        var open = new Stack<Open>();
        int sectionKeys = 0, fileKeys = 0;
        bool lineStart = true;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '\n') { lineStart = true; continue; }
            if (c is ' ' or '\t' or '\r') continue;
            bool header = lineStart && open.Count == 0 && c == '[';
            lineStart = false;
            switch (c)
            {
                case '#':
                    while (i + 1 < text.Length && text[i + 1] != '\n') i++;
                    break;
                case '"' or '\'':
                    i = SkipString(text, i);
                    break;
                case '[' or '{':
                    if (open.Count + 1 > Limits.MaxNestingDepth + 2)
                        return (i, $"arrays or inline tables nested deeper than {Limits.MaxNestingDepth} levels");
                    if (header)
                    {
                        sectionKeys = 0;
                        if (++fileKeys > Limits.MaxKeysPerFile) return TooManyInFile(i);
                    }
                    open.Push(new Open(c, 0));
                    break;
                case ']' or '}':
                    if (open.Count > 0) open.Pop();
                    break;
                case '=':
                    if (++fileKeys > Limits.MaxKeysPerFile) return TooManyInFile(i);
                    if (open.Count == 0 && ++sectionKeys > Limits.MaxKeysPerTable)
                        return (i, $"more than {Limits.MaxKeysPerTable} keys in one table");
                    if (open.Count > 0 && open.Peek().Kind == '{')
                    {
                        var table = open.Pop();
                        if (table.Keys + 1 > Limits.MaxKeysPerTable)
                            return (i, $"more than {Limits.MaxKeysPerTable} keys in one inline table");
                        open.Push(table with { Keys = table.Keys + 1 });
                    }
                    break;
            }
        }
        return null;
    }

    private static (int, string) TooManyInFile(int offset) =>
        (offset, $"more than {Limits.MaxKeysPerFile} keys and table headers in one file");

    /// <summary>The offset of the closing quote of the string that starts at <paramref name="i"/> (or the end of the text).</summary>
    private static int SkipString(string text, int i)
    {
        char q = text[i];
        bool multiLine = i + 2 < text.Length && text[i + 1] == q && text[i + 2] == q;
        int j = multiLine ? i + 3 : i + 1;
        while (j < text.Length)
        {
            if (q == '"' && text[j] == '\\') { j += 2; continue; }
            if (!multiLine && text[j] == q) return j;
            if (!multiLine && text[j] == '\n') return j - 1; // unterminated: the newline still ends the line
            if (multiLine && text[j] == q && j + 2 < text.Length && text[j + 1] == q && text[j + 2] == q)
            {
                // A closing run may be up to five quotes long: """a""""" ends with two quotes of content.
                int end = j;
                while (end + 3 < text.Length && text[end + 3] == q && end - j < 2) end++;
                return end + 2;
            }
            j++;
        }
        return text.Length;
    }
}
