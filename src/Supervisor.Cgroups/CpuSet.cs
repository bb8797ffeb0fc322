using System.Globalization;
using System.Text;

namespace Supervisor.Cgroups;

/// <summary>
/// A cpuset list ("0-3,8"), as used by cpuset.cpus and cpuset.mems. Equality is by members, so
/// "0-3" equals "0,1,2,3" the way the kernel normalises it on read-back.
/// </summary>
public sealed class CpuSet : IEquatable<CpuSet>
{
    /// <summary>Highest CPU or node number accepted; the kernel's NR_CPUS is at most 8192.</summary>
    public const int MaxIndex = 8191;

    private readonly SortedSet<int> _members;

    private CpuSet(SortedSet<int> members) => _members = members;

    public static CpuSet Empty { get; } = new(new SortedSet<int>());

    public IReadOnlyCollection<int> Members => _members;

    public bool IsEmpty => _members.Count == 0;

    public static CpuSet Of(params int[] members) => new(new SortedSet<int>(members));

    /// <summary>Parses "0-3,5,7-8" (whitespace and a trailing newline allowed, empty = empty set).</summary>
    public static CpuSet Parse(string text)
    {
        if (!TryParse(text, out var set, out var error))
        {
            throw new FormatException(error);
        }
        return set;
    }

    public static bool TryParse(string text, out CpuSet set, out string error)
    {
        var members = new SortedSet<int>();
        set = Empty;
        error = "";
        var trimmed = text.Trim();
        if (trimmed.Length == 0)
        {
            set = new CpuSet(members);
            return true;
        }
        foreach (var rawPart in trimmed.Split(','))
        {
            var part = rawPart.Trim();
            var dash = part.IndexOf('-', StringComparison.Ordinal);
            string lowText = dash < 0 ? part : part[..dash];
            string highText = dash < 0 ? part : part[(dash + 1)..];
            if (!int.TryParse(lowText, NumberStyles.None, CultureInfo.InvariantCulture, out var low)
                || !int.TryParse(highText, NumberStyles.None, CultureInfo.InvariantCulture, out var high))
            {
                error = $"expected a list like \"0-3,5\", got \"{text.Trim()}\"";
                return false;
            }
            if (low > high)
            {
                error = $"range \"{part}\" runs backwards";
                return false;
            }
            if (high > MaxIndex)
            {
                error = $"{high} is above the largest CPU/node number {MaxIndex}";
                return false;
            }
            for (var i = low; i <= high; i++)
            {
                members.Add(i);
            }
        }
        set = new CpuSet(members);
        return true;
    }

    public bool IsSubsetOf(CpuSet other) => _members.IsSubsetOf(other._members);

    public CpuSet Except(CpuSet other)
    {
        var copy = new SortedSet<int>(_members);
        copy.ExceptWith(other._members);
        return new CpuSet(copy);
    }

    /// <summary>The kernel's own spelling: ranges collapsed, ascending ("0-3,5").</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        int? start = null;
        int prev = -2;
        foreach (var m in _members)
        {
            if (start is null)
            {
                start = m;
            }
            else if (m != prev + 1)
            {
                Append(sb, start.Value, prev);
                start = m;
            }
            prev = m;
        }
        if (start is not null)
        {
            Append(sb, start.Value, prev);
        }
        return sb.ToString();

        static void Append(StringBuilder sb, int from, int to)
        {
            if (sb.Length > 0)
            {
                sb.Append(',');
            }
            sb.Append(from.ToString(CultureInfo.InvariantCulture));
            if (to != from)
            {
                sb.Append('-').Append(to.ToString(CultureInfo.InvariantCulture));
            }
        }
    }

    public bool Equals(CpuSet? other) => other is not null && _members.SetEquals(other._members);

    public override bool Equals(object? obj) => obj is CpuSet other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var m in _members)
        {
            hash.Add(m);
        }
        return hash.ToHashCode();
    }
}
