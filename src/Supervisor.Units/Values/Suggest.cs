namespace Supervisor.Units.Values;

/// <summary>"Did you mean" for unknown keys and values: the nearest candidate by edit distance.</summary>
public static class Suggest
{
    /// <summary>The closest candidate, or null when none is close enough to be a plausible typo.</summary>
    public static string? Nearest(string input, IEnumerable<string> candidates)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (var c in candidates)
        {
            if (string.Equals(c, input, StringComparison.OrdinalIgnoreCase))
                return c;
            var d = Distance(input, c, ignoreCase: true);
            if (d < bestDistance)
            {
                bestDistance = d;
                best = c;
            }
        }
        // A third of the length (at least 2) separates typos from different words:
        // 'MemoryMaxx' → 'MemoryMax' (1), 'Resart' → 'Restart' (1), but 'Foo' suggests nothing.
        int allowed = Math.Max(2, input.Length / 3);
        return bestDistance <= allowed ? best : null;
    }

    public static string? Hint(string input, IEnumerable<string> candidates)
    {
        var n = Nearest(input, candidates);
        return n is null ? null : $"did you mean '{n}'?";
    }

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps.</summary>
    public static int Distance(string a, string b) => Distance(a, b, ignoreCase: false);

    /// <summary>
    /// Three rolling rows on the stack rather than a matrix and lower-cased copies per
    /// candidate: "did you mean" runs for every unknown key and value of a file against every
    /// candidate, and those allocations made a file of unknown keys cost about 2 KB of memory
    /// per byte (found by tests/fuzz).
    /// </summary>
    private static int Distance(ReadOnlySpan<char> a, ReadOnlySpan<char> b, bool ignoreCase)
    {
        if (a.Length > 256 || b.Length > 256)
            return Math.Max(a.Length, b.Length);
        int width = b.Length + 1;
        Span<int> rows = stackalloc int[3 * width];
        Span<int> beforePrevious = rows[..width], previous = rows.Slice(width, width), current = rows[(2 * width)..];
        for (int j = 0; j < width; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            char ai = Fold(a[i - 1], ignoreCase);
            for (int j = 1; j <= b.Length; j++)
            {
                char bj = Fold(b[j - 1], ignoreCase);
                int d = Math.Min(Math.Min(previous[j] + 1, current[j - 1] + 1), previous[j - 1] + (ai == bj ? 0 : 1));
                if (i > 1 && j > 1 && ai == Fold(b[j - 2], ignoreCase) && Fold(a[i - 2], ignoreCase) == bj)
                    d = Math.Min(d, beforePrevious[j - 2] + 1);
                current[j] = d;
            }
            var reuse = beforePrevious;
            beforePrevious = previous;
            previous = current;
            current = reuse;
        }
        return previous[b.Length];
    }

    private static char Fold(char c, bool ignoreCase) => ignoreCase ? char.ToLowerInvariant(c) : c;
}
