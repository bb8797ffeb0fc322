using Supervisor.Sandbox.Seccomp;

namespace Supervisor.Sandbox.Suggest;

/// <summary>One entry of a suggested SystemCallFilter: a @group or a call, the learned calls it covers, and why it was chosen.</summary>
public sealed record FilterEntry(string Entry, IReadOnlyList<string> Covers, int Members, string Why);

/// <summary>
/// The grouping rule of <c>security --suggest</c>: the learned calls (those outside what is already
/// allowed) become @groups where the service used most of a group, single names otherwise.
/// A group is named when (1) the service used at least half of its calls that are not already
/// allowed, and at least two; (2) none of the calls the group would add unused is dangerous
/// (<see cref="Dangerous"/>): a dangerous call is only ever allowed because the service made it,
/// by name. Groups are taken greedily, the one covering most learned calls not yet covered first
/// (ties: the smaller group, then the name); what no group covers is named singly.
/// </summary>
public static class SyscallGrouping
{
    /// <summary>Groups never allowed for what they contain beyond the calls the service made.</summary>
    public static readonly IReadOnlyList<string> DangerousGroups =
        ["@clock", "@cpu-emulation", "@debug", "@module", "@mount", "@obsolete", "@privileged", "@raw-io", "@reboot", "@swap"];

    /// <summary>Calls outside those groups that are as much attack surface (issue #16: "@system-service" still allows the first six).</summary>
    public static readonly IReadOnlyList<string> DangerousCalls =
    [
        "keyctl", "add_key", "request_key", "io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd",
        "setns", "unshare", "kcmp", "pidfd_getfd", "process_vm_readv", "process_vm_writev", "bpf", "perf_event_open", "personality",
    ];

    /// <summary>Every call of <see cref="DangerousGroups"/> and <see cref="DangerousCalls"/>.</summary>
    public static IReadOnlySet<string> Dangerous { get; } = BuildDangerous();

    private static HashSet<string> BuildDangerous()
    {
        var set = new HashSet<string>(DangerousCalls, StringComparer.Ordinal);
        foreach (var g in DangerousGroups)
            if (SyscallGroups.TryGet(g, out var members)) set.UnionWith(members);
        return set;
    }

    /// <summary>
    /// The entries that allow every call of <paramref name="needed"/> not in <paramref name="allowed"/>.
    /// <paramref name="exists"/> says which calls exist on this architecture (a group's others do not count).
    /// </summary>
    public static IReadOnlyList<FilterEntry> Group(IReadOnlySet<string> needed, IReadOnlySet<string> allowed, Func<string, bool>? exists = null)
    {
        exists ??= SeccompCompiler.IsKnownOnThisArch;
        var uncovered = new SortedSet<string>(needed.Where(c => !allowed.Contains(c)), StringComparer.Ordinal);
        var candidates = Candidates(uncovered, allowed, exists);
        var entries = new List<FilterEntry>();
        while (uncovered.Count > 0)
        {
            var best = candidates
                .Select(c => (c.Name, c.Members, c.Used, Fresh: c.Used.Where(uncovered.Contains).ToList()))
                .Where(c => c.Fresh.Count > 0)
                .OrderByDescending(c => c.Fresh.Count).ThenBy(c => c.Members.Count).ThenBy(c => c.Name, StringComparer.Ordinal)
                .FirstOrDefault();
            if (best.Name is null) break;
            entries.Add(new FilterEntry(best.Name, best.Fresh, best.Members.Count,
                $"{best.Used.Count} of its {best.Members.Count} calls used"));
            uncovered.ExceptWith(best.Fresh);
        }
        foreach (var call in uncovered)
            entries.Add(new FilterEntry(call, [call], 1, Dangerous.Contains(call) ? "called by the service (a dangerous call: named, never allowed as part of a group)" : "called by the service"));
        return entries;
    }

    private sealed record Candidate(string Name, IReadOnlySet<string> Members, IReadOnlyList<string> Used);

    /// <summary>The groups rule (1) and (2) accept for these calls.</summary>
    private static List<Candidate> Candidates(IReadOnlySet<string> needed, IReadOnlySet<string> allowed, Func<string, bool> exists)
    {
        var accepted = new List<Candidate>();
        foreach (var name in SyscallGroups.Names)
        {
            if (name is "@default" or "@known" || !SyscallGroups.TryGet(name, out var all)) continue;
            var members = all.Where(c => !allowed.Contains(c) && exists(c)).ToHashSet(StringComparer.Ordinal);
            var used = members.Where(needed.Contains).Order(StringComparer.Ordinal).ToList();
            bool most = used.Count >= 2 && used.Count * 2 >= members.Count;
            if (most && !members.Any(c => !needed.Contains(c) && Dangerous.Contains(c)))
                accepted.Add(new Candidate(name, members, used));
        }
        return accepted;
    }
}
