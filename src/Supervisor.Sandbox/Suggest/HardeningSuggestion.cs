using Supervisor.Sandbox.Seccomp;
using Supervisor.Units.Model;
using Families = Supervisor.Units.Values.AddressFamilies;
using Caps = Supervisor.Units.Values.Capabilities;

namespace Supervisor.Sandbox.Suggest;

/// <summary>A suggested value with the reason it is suggested (or, with a null value, why nothing is).</summary>
public sealed record Suggested<T>(T? Value, string Why);

/// <summary>
/// What <c>security --suggest</c> proposes for one unit from what learn mode recorded: the
/// SystemCallFilter that covers every call the service made (<see cref="SyscallGrouping"/>),
/// EPERM instead of a kill, the address families it opened, the capabilities it may need
/// (<see cref="CapabilityUse"/>) and the namespaces it tolerates losing (<see cref="NamespaceUse"/>).
/// Pure: the caller reads the learned file and the declaration.
/// </summary>
public sealed record HardeningSuggestion(
    IReadOnlyList<string> Baseline,
    IReadOnlyList<FilterEntry> Filter,
    string? ErrorNumber,
    Suggested<IReadOnlyList<string>> AddressFamilies,
    Suggested<bool> PrivateNetwork,
    Suggested<IReadOnlyList<string>> Namespaces,
    IReadOnlyList<string> BoundingSet,
    IReadOnlyList<CapabilityVerdict> Dropped,
    IReadOnlyList<CapabilityVerdict> Kept,
    IReadOnlyList<string> Notes)
{
    /// <summary>The suggested SystemCallFilter entries in order: the baseline's, then the learned ones.</summary>
    public IEnumerable<string> FilterEntries => Baseline.Concat(Filter.Select(f => f.Entry));

    public static HardeningSuggestion For(UnitDefinition unit, LearnedUse use)
    {
        var sandbox = unit.Sandbox;
        var baseline = BaselineEntries(sandbox);
        var filter = SyscallGrouping.Group(use.Learned, use.Unobserved).Concat(KernelAnswered(sandbox, use)).ToList();
        var (bounding, dropped, kept) = CapabilitiesOf(sandbox, use);
        return new HardeningSuggestion(baseline, filter, sandbox.SystemCallErrorNumber is null ? "EPERM" : null,
            FamiliesOf(use), NetworkOf(use), NamespacesOf(use), bounding, dropped, kept, NotesFor(sandbox, use));
    }

    private const int EPERM = 1;

    /// <summary>
    /// Calls another directive of the unit refuses whatever their arguments (RestrictNamespaces'
    /// clone3 → ENOSYS …) with an errno other than the filter's: while learning the service got that
    /// answer (and never reached the listener), so they are allowed here to keep it; left out of
    /// the allow list they would get the filter's errno instead, and a libc that falls back from
    /// clone3 to clone on ENOSYS would fail.
    /// </summary>
    private static IEnumerable<FilterEntry> KernelAnswered(SandboxSection sandbox, LearnedUse use)
    {
        int filterErrno = sandbox.SystemCallErrorNumber ?? EPERM;
        return KernelRestrictions.For(sandbox, Linux.Native.Libseccomp.NativeArch())
            .Where(r => r.Unconditional && r.Errno != filterErrno && !use.MayHaveCalled(r.Syscall))
            .DistinctBy(r => r.Syscall)
            .Select(r => new FilterEntry(r.Syscall, [], 1, $"{r.Directive} refuses it with {Linux.Errno.Name(r.Errno)}: allowed so the service keeps getting that answer, as while learning"));
    }

    /// <summary>The unit's allow list as written (learning ran under it), else @default.</summary>
    private static IReadOnlyList<string> BaselineEntries(SandboxSection sandbox) =>
        sandbox.SystemCallFilter is { IsAllowList: true } filter
            ? [.. filter.Entries.Select(e => e.Negated ? "~" + string.Join(' ', e.Names) : string.Join(' ', e.Names))]
            : ["@default"];

    private static Suggested<IReadOnlyList<string>> FamiliesOf(LearnedUse use)
    {
        if (!use.IsObserved("socket"))
            return new(null, "socket was allowed unreported while learning, so its address families were not seen: RestrictAddressFamilies is not suggested");
        if (!use.Learned.Contains("socket"))
            return new(["none"], "socket was never called");
        return new([.. use.Families.Order().Select(Families.Name)], "the address families the service opened sockets of");
    }

    private static readonly int[] NetworkFamilies = [2, 10, 16, 17];

    private static Suggested<bool> NetworkOf(LearnedUse use)
    {
        if (!use.IsObserved("socket"))
            return new(false, "socket was allowed unreported while learning: whether the service uses the network is not known");
        var used = use.Families.Where(NetworkFamilies.Contains).Select(Families.Name).ToList();
        return used.Count > 0
            ? new(false, $"the service opened {string.Join(", ", used)} sockets")
            : new(true, "no AF_INET, AF_INET6, AF_NETLINK or AF_PACKET socket was opened; an abstract AF_UNIX socket of the host is not reachable from a private network namespace, which learn mode cannot tell");
    }

    private static Suggested<IReadOnlyList<string>> NamespacesOf(LearnedUse use)
    {
        if (NamespaceUse.TypesUsed(use) is not { } types)
            return new(null, $"{string.Join(", ", NamespaceUse.Unobserved(use))} allowed unreported while learning: their namespace flags were not seen");
        return types.Count == 0
            ? new([], "no clone, clone3, unshare or setns asked for a namespace")
            : new(types, $"the service created or joined {string.Join(", ", types)} namespaces");
    }

    /// <summary>The declared bounding set (systemd's full set when none is declared) minus the capabilities never used.</summary>
    private static (IReadOnlyList<string>, IReadOnlyList<CapabilityVerdict>, IReadOnlyList<CapabilityVerdict>) CapabilitiesOf(SandboxSection sandbox, LearnedUse use)
    {
        ulong declared = sandbox.CapabilityBoundingSet?.Mask(Caps.Last) ?? ulong.MaxValue;
        var held = CapabilityUse.Judge(use).Where(v => (declared & (1UL << v.Capability)) != 0).ToList();
        var kept = held.Where(v => v.MayBeNeeded).ToList();
        return ([.. kept.Select(v => v.Name)], [.. held.Where(v => !v.MayBeNeeded)], kept);
    }

    private static IReadOnlyList<string> NotesFor(SandboxSection sandbox, LearnedUse use)
    {
        var notes = new List<string>();
        if (sandbox.SystemCallFilter is { IsAllowList: true })
            notes.Add("learning ran under the unit's own SystemCallFilter: its calls were allowed unreported, so they stay as written; for the minimal list, learn without SystemCallFilter (only @default is then unreported)");
        notes.Add("not suggested, as system calls do not show them: the paths the service reads and writes (ProtectSystem, ReadWritePaths, Landlock*), the ports it binds (SocketBindAllow, LandlockBindPorts), the addresses it talks to (IPAddressAllow)");
        notes.Add("learn mode sees only what the service did while it learned: drive every code path (start, reload, save, shutdown) before applying, and watch `supervisor status` for denials after");
        if (use.Learned.Count == 0) notes.Add("no call outside the baseline was made: the baseline alone is suggested");
        return notes;
    }
}
