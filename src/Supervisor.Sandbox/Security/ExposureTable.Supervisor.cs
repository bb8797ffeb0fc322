using Supervisor.Units.Values;

namespace Supervisor.Sandbox.Security;

public static partial class ExposureTable
{
    /// <summary>
    /// What only Supervisor has: Landlock rules (systemd 252 has none) and, for a running unit, the
    /// live comparison of the process with its plan. Shown beside the systemd checks, never in the
    /// score (<see cref="ExposureCheck.SupervisorOnly"/>): the score stays comparable with
    /// systemd-analyze's, and these lines say what the unit has beyond it. A live difference does
    /// raise the score, through the facts read from /proc (<see cref="SecurityFacts.WithLive"/>).
    /// </summary>
    private static ExposureCheck[] SupervisorOnly =>
    [
        Own("LandlockReadOnlyPaths/ReadWritePaths/ExecutePaths", 1, f => f.LandlockFilesystem
            ? new(0, "Landlock: the service reaches only the paths its rules list")
            : new(1, "Landlock: no filesystem rules; every path the other keys leave open is reachable")),
        Own("LandlockBindPorts/ConnectPorts", 2, f => (f.LandlockBindPorts, f.LandlockConnectPorts) switch
        {
            (true, true) => new(0, "Landlock: TCP bind and connect are limited to the listed ports"),
            (true, false) => new(1, "Landlock: TCP bind is limited to the listed ports; connect is not"),
            (false, true) => new(1, "Landlock: TCP connect is limited to the listed ports; bind is not"),
            _ => new(2, "Landlock: any TCP port may be bound and connected to"),
        }),
        Own("LandlockScope", 2, f => f.LandlockScopes switch
        {
            >= 2 => new(0, "Landlock: no abstract unix socket and no signal reaches out of the service's domain"),
            1 => new(1, "Landlock: one of abstract unix sockets and signals is scoped to the service's domain"),
            _ => new(2, "Landlock: abstract unix sockets and signals reach processes outside the service"),
        }),
        Own("SystemCallFilter=" + SyscallTable.StrictServiceGroup, 1, StrictServiceSet),
        Own("learned filter (security --suggest)", 2, LearnedFilter),
        Own("live isolation (inspect)", 1, f => f.Live switch
        {
            null => Assessment.NotApplicable("not running: the declaration is scored, nothing was read from a process"),
            { Differing.Count: 0 } live => new(0, $"process {live.Pid}: all {live.Compared} properties inspect compares match the declaration"),
            var live => new(1, $"process {live.Pid}: {live.Differing.Count} of {live.Compared} properties differ from the declaration: {string.Join(", ", live.Differing)}"),
        }),
    ];

    /// <summary>
    /// Whether the filter also keeps out what @system-service still allows and services do not need
    /// (keyring, io_uring, userfaultfd, the ptrace-class and namespace calls): a unit filtered by
    /// @system-service passes every systemd check above and still reaches them.
    /// </summary>
    private static Assessment StrictServiceSet(SecurityFacts f)
    {
        if (f.SyscallFilter is not { } filter || (!f.SyscallFilterIsAllowList && filter.Count == 0))
            return new(1, "no system call filter: keyctl, io_uring_setup, userfaultfd and the rest are reachable");
        var open = SyscallTable.StrictServiceRemovals.Select(r => r.Call)
            .Where(call => ExistsHere(call) && filter.Contains(call) == f.SyscallFilterIsAllowList).ToList();
        return open.Count == 0
            ? new(0, $"none of the {SyscallTable.StrictServiceRemovals.Count} calls {SyscallTable.StrictServiceGroup} removes from @system-service is allowed")
            : new(1, $"allowed although services do not need them: {string.Join(", ", open)} (use {SyscallTable.StrictServiceGroup} instead of @system-service, or deny them)");
    }

    /// <summary>
    /// Passes when the enforced allow list lets through no dangerous call (<see cref="Suggest.SyscallGrouping.Dangerous"/>)
    /// beyond @default and what learn mode saw the service make; half when it does; fails while
    /// the learned calls are not enforced by an allow list (still learning, or none declared).
    /// </summary>
    private static Assessment LearnedFilter(SecurityFacts f)
    {
        if (f.LearnedSyscalls is not { } learned)
            return Assessment.NotApplicable("nothing learned: run the unit with SystemCallFilterMode = \"learn\" to record the calls it makes");
        if (f.SyscallFilterLearning)
            return new(2, $"{learned.Count} calls learned, still learning: every call is allowed until `security --suggest` is applied");
        if (f.SyscallFilter is not { } allowed || !f.SyscallFilterIsAllowList)
            return new(2, $"{learned.Count} calls learned, but no SystemCallFilter allow list enforces them: apply `security --suggest`");
        var baseline = Units.Values.SyscallTable.Expand("@default");
        var unseen = allowed.Where(c => !learned.Contains(c) && !baseline.Contains(c) && Suggest.SyscallGrouping.Dangerous.Contains(c)).Order(StringComparer.Ordinal).ToList();
        var missing = learned.Count(c => !allowed.Contains(c));
        var denies = missing > 0 ? $"; it denies {missing} learned calls" : "";
        return unseen.Count == 0
            ? new(0, $"the enforced filter allows no dangerous call beyond @default and the {learned.Count} learned{denies}")
            : new(1, $"the enforced filter allows {unseen.Count} dangerous calls the service was not seen to make: {string.Join(", ", unseen)}{denies}");
    }

    private static ExposureCheck Own(string name, int range, Func<SecurityFacts, Assessment> assess) => new(name, 0, range, assess, SupervisorOnly: true);
}
