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
            var d = Distance(input.ToLowerInvariant(), c.ToLowerInvariant());
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
    public static int Distance(string a, string b)
    {
        if (a.Length > 256 || b.Length > 256)
            return Math.Max(a.Length, b.Length);
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }
}
