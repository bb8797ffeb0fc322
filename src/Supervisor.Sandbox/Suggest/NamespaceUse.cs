using Supervisor.Units.Model;
using Arg = Supervisor.Sandbox.Seccomp.LearnedArgument;

namespace Supervisor.Sandbox.Suggest;

/// <summary>
/// The namespaces a service created or joined, from the namespace flags learn mode recorded for
/// clone, clone3, unshare and setns (setns with nstype 0 counts as every type). Unknown when one
/// of those calls was allowed unreported while learning: its flags were never seen.
/// </summary>
public static class NamespaceUse
{
    private static readonly string[] CallsWithFlags = ["clone", "clone3", "unshare", "setns"];

    private static readonly (ulong Flag, Namespaces Type, string Name)[] Types =
    [
        (0x02000000, Namespaces.Cgroup, "cgroup"), (0x08000000, Namespaces.Ipc, "ipc"), (0x00020000, Namespaces.Mount, "mnt"),
        (0x40000000, Namespaces.Net, "net"), (0x20000000, Namespaces.Pid, "pid"), (0x10000000, Namespaces.User, "user"),
        (0x04000000, Namespaces.Uts, "uts"),
    ];

    /// <summary>The calls whose flags were never seen (allowed unreported); empty when the answer is known.</summary>
    public static IReadOnlyList<string> Unobserved(LearnedUse use) => [.. CallsWithFlags.Where(c => !use.IsObserved(c))];

    /// <summary>The types created or joined, by RestrictNamespaces' names ("net", "user" …); null when unknown.</summary>
    public static IReadOnlyList<string>? TypesUsed(LearnedUse use)
    {
        if (Unobserved(use).Count > 0) return null;
        ulong flags = 0;
        foreach (var call in CallsWithFlags.Where(use.Learned.Contains))
        {
            if (!use.Arguments.TryGetValue(call, out var values) || values.Count == 0) flags |= Arg.NamespaceFlags;
            else foreach (var v in values) flags |= v & Arg.NamespaceFlags;
        }
        return [.. Types.Where(t => (flags & t.Flag) != 0).Select(t => t.Name)];
    }

    /// <summary>Why CAP_SYS_ADMIN may be needed for namespaces (any type but a user namespace alone); null when no call asked for one.</summary>
    public static string? Evidence(LearnedUse use)
    {
        if (Unobserved(use) is [var first, ..]) return use.Evidence(first);
        var used = TypesUsed(use) ?? [];
        return used.Any(t => t != "user") ? $"namespaces were created or joined ({string.Join(", ", used)})" : null;
    }
}
