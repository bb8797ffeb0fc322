using System.Globalization;
using Supervisor.Sandbox.Inspect;
using Supervisor.Units.Model;

namespace Supervisor.Sandbox.Security;

/// <summary>What `inspect` compared for a running unit: the properties that matched, and those that differed.</summary>
public sealed record LiveVerification(int Pid, int Compared, IReadOnlyList<string> Differing);

public sealed partial record SecurityFacts
{
    /// <summary>
    /// The facts with what the running main process was found to have put in place of what was
    /// declared, where /proc shows it: its uid, bounding and ambient capabilities, no_new_privs,
    /// its own network, user and mount namespaces, and whether a seccomp filter is loaded at all.
    /// Without a filter (Seccomp: 0 in /proc) every check a filter enforces (SystemCallFilter,
    /// SystemCallArchitectures, RestrictNamespaces, RestrictAddressFamilies, LockPersonality,
    /// MemoryDenyWriteExecute, RestrictRealtime, RestrictSUIDSGID) counts as not in place.
    /// The inspect lines (process vs plan) are kept for the "live isolation" line.
    /// </summary>
    public SecurityFacts WithLive(IsolationState state, IReadOnlyList<InspectLine> lines)
    {
        var live = this with
        {
            User = LiveUser(state.Uid),
            DynamicUser = DynamicUser && state.Uid != 0,
            CapabilityBoundingSet = state.CapBnd,
            AmbientCapabilities = state.CapAmb,
            NoNewPrivileges = state.NoNewPrivs,
            PrivateNetwork = state.InNewNamespace("net"),
            PrivateUsers = state.InNewNamespace("user"),
            PrivateMounts = state.InNewNamespace("mnt"),
            Live = new LiveVerification(state.Pid, lines.Count(l => l.Result != CheckResult.Info),
                [.. lines.Where(l => l.Result == CheckResult.Mismatch).Select(l => l.Property)]),
        };
        const int SeccompFilterMode = 2;
        return state.SeccompMode == SeccompFilterMode ? live : live with
        {
            SyscallFilter = null,
            SyscallFilterIsAllowList = false,
            SyscallArchitectures = [],
            NamespacesAllowed = NamespaceRestriction.Restrictable,
            RestrictInet = false,
            RestrictUnix = false,
            RestrictNetlink = false,
            RestrictPacket = false,
            RestrictOtherFamilies = false,
            LockPersonality = false,
            MemoryDenyWriteExecute = false,
            RestrictRealtime = false,
            RestrictSUIDSGID = false,
        };
    }

    /// <summary>The declared name while the process runs under a non-root uid as declared; the uid otherwise.</summary>
    private string LiveUser(uint uid)
    {
        if (uid == 0) return "root";
        if (!RunsPrivileged && User is { Length: > 0 } declared) return declared;
        return uid == NobodyUid ? NobodyUser : uid.ToString(CultureInfo.InvariantCulture);
    }

    private const uint NobodyUid = 65534;
    public const string NobodyUser = "nobody";
}
