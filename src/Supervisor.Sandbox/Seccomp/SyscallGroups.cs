using System.Collections.Frozen;

namespace Supervisor.Sandbox.Seccomp;

/// <summary>
/// systemd's @group names for system calls, with exactly the members `systemd-analyze
/// syscall-filter` prints (the unit model's embedded table). Nested groups (@system-service includes @basic-io …) are expanded recursively.
/// </summary>
public static class SyscallGroups
{
    private static readonly FrozenDictionary<string, IReadOnlySet<string>> Groups = Load();

    /// <summary>Every group name, with its "@".</summary>
    public static IReadOnlyCollection<string> Names => Groups.Keys;

    /// <summary>The fully expanded members of "@name" (the "@" is required).</summary>
    public static bool TryGet(string name, out IReadOnlySet<string> members)
    {
        if (Groups.TryGetValue(name, out var m))
        {
            members = m;
            return true;
        }
        members = FrozenSet<string>.Empty;
        return false;
    }

    /// <summary>
    /// The table is the unit model's (Supervisor.Units/Tables/syscall-groups.txt): the parser
    /// validates @group names against the same data the filter is compiled from.
    /// </summary>
    private static FrozenDictionary<string, IReadOnlySet<string>> Load() =>
        Expand(Units.Values.SyscallTable.RawGroups.ToDictionary(kv => kv.Key, kv => kv.Value.ToList(), StringComparer.Ordinal));

    /// <summary>
    /// Parses systemd-analyze syscall-filter output: a column-0 "@name" starts a group, indented
    /// lines are members (or nested "@group"s), indented "#" lines are descriptions, and a
    /// column-0 "#" line ends the listing (what follows are ungrouped calls).
    /// </summary>
    internal static Dictionary<string, List<string>> Parse(string text)
    {
        var groups = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        List<string>? current = null;
        bool first = true;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith('#'))
            {
                // The generated file starts with a provenance comment; any later one ends the groups.
                if (first && current is null)
                    continue;
                break;
            }
            first = false;
            if (line.Length == 0)
            {
                current = null;
                continue;
            }
            if (line.StartsWith('@'))
            {
                current = [];
                groups[line.Trim()] = current;
                continue;
            }
            var member = line.Trim();
            if (current is null || member.StartsWith('#'))
                continue;
            current.Add(member);
        }
        return groups;
    }

    internal static FrozenDictionary<string, IReadOnlySet<string>> Expand(Dictionary<string, List<string>> raw)
    {
        var done = new Dictionary<string, IReadOnlySet<string>>(StringComparer.Ordinal);
        foreach (var name in raw.Keys)
            ExpandOne(name, raw, done, []);
        return done.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static IReadOnlySet<string> ExpandOne(string name, Dictionary<string, List<string>> raw,
        Dictionary<string, IReadOnlySet<string>> done, HashSet<string> visiting)
    {
        if (done.TryGetValue(name, out var ready))
            return ready;
        if (!visiting.Add(name))
            throw new InvalidOperationException($"syscall group '{name}' includes itself");
        if (!raw.TryGetValue(name, out var members))
            throw new InvalidOperationException($"syscall group table refers to unknown group '{name}'");
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var m in members)
        {
            if (m.StartsWith('@'))
                set.UnionWith(ExpandOne(m, raw, done, visiting));
            else
                set.Add(m);
        }
        visiting.Remove(name);
        var frozen = set.ToFrozenSet(StringComparer.Ordinal);
        done[name] = frozen;
        return frozen;
    }
}
