using System.Collections.Immutable;
using Supervisor.Sandbox.Inspect;

namespace Supervisor.Sandbox.Tests;

/// <summary>
/// Inspect compares what the kernel guarantees, not equality with the start state: a daemon that
/// narrows its own credentials (memcached: root, then setuid() to its user) is not drift; a process
/// with a capability beyond its declaration, or another uid it could not have chosen, still is.
/// </summary>
public class InspectCredentialTests
{
    private const ulong SetgidSetuid = (1UL << 6) | (1UL << 7);

    /// <summary>A process state with these credentials and no namespaces (other tests add theirs).</summary>
    internal static IsolationState State(uint uid, uint gid, ulong prm, ulong eff, ulong bnd, bool nnp = false, int seccomp = 0) => new()
    {
        Pid = 4242,
        Namespaces = ImmutableDictionary<string, ulong>.Empty,
        HostNamespaces = ImmutableDictionary<string, ulong>.Empty,
        Cgroups = [],
        Uid = uid,
        Gid = gid,
        CapInh = 0,
        CapPrm = prm,
        CapEff = eff,
        CapBnd = bnd,
        CapAmb = 0,
        NoNewPrivs = nnp,
        SeccompMode = seccomp,
        SeccompFilters = seccomp == 2 ? 1 : 0,
        RootIsHostRoot = true,
        Mounts = [],
        Umask = 0x12,
    };

    private static ExecPlan Root(ulong caps, bool nnp = false) => new()
    {
        Path = "/usr/bin/memcached",
        Argv = ["memcached", "-u", "memcache"],
        Identity = new Identity(0, 0, []),
        Capabilities = new CapabilitySets(caps, caps, caps, 0, 0),
        NoNewPrivileges = nnp,
        UMask = 0x12,
    };

    private static List<InspectLine> Mismatches(ExecPlan plan, IsolationState state) =>
        [.. IsolationCheck.Compare(plan, state).Where(l => l.Result == CheckResult.Mismatch)];

    [Fact]
    public void A_root_service_that_switched_to_its_own_user_and_dropped_its_capabilities_is_not_drift()
    {
        // Debian's memcached unit: CapabilityBoundingSet = CAP_SETGID CAP_SETUID, NoNewPrivileges.
        var plan = Root(SetgidSetuid, nnp: true);
        var state = State(103, 107, 0, 0, SetgidSetuid, nnp: true);
        Assert.Empty(Mismatches(plan, state));
        var lines = IsolationCheck.Compare(plan, state);
        Assert.Contains("switched by the process itself", lines.Single(l => l.Property == "uid").Found);
        Assert.Contains("dropped by the process", lines.Single(l => l.Property == "CapPrm").Found);
    }

    [Fact]
    public void A_capability_beyond_the_declaration_is_drift_in_every_set()
    {
        var plan = Root(SetgidSetuid);
        Assert.Equal(["CapPrm", "CapEff"], Mismatches(plan, State(0, 0, SetgidSetuid | 1, SetgidSetuid | 1, SetgidSetuid)).Select(l => l.Property));
        Assert.Equal(["CapBnd"], Mismatches(plan, State(0, 0, SetgidSetuid, SetgidSetuid, SetgidSetuid & ~1UL << 6)).Select(l => l.Property));
    }

    [Fact]
    public void Another_uid_is_drift_unless_the_service_started_as_root_with_CAP_SETUID()
    {
        // Declared nobody: running as anyone else is drift.
        var nobody = Root(0) with { Identity = new Identity(65534, 65534, []), Capabilities = new CapabilitySets(0, 0, 0, 0, 0) };
        Assert.Equal(["uid", "gid"], Mismatches(nobody, State(0, 0, 0, 0, 0)).Select(l => l.Property));
        // Root without CAP_SETUID/CAP_SETGID could not have switched by itself.
        Assert.Equal(["uid", "gid"], Mismatches(Root(1UL << 10), State(103, 107, 0, 0, 1UL << 10)).Select(l => l.Property));
    }

    [Fact]
    public void NoNewPrivs_and_seccomp_must_hold_when_declared_and_a_process_may_add_them_itself()
    {
        var plan = Root(SetgidSetuid, nnp: true) with { SeccompBpf = [1, 2, 3, 4, 5, 6, 7, 8] };
        Assert.Equal(["NoNewPrivs", "Seccomp"], Mismatches(plan, State(0, 0, SetgidSetuid, SetgidSetuid, SetgidSetuid)).Select(l => l.Property));
        Assert.Empty(Mismatches(Root(SetgidSetuid), State(0, 0, SetgidSetuid, SetgidSetuid, SetgidSetuid, nnp: true, seccomp: 2)));
    }

    [Fact]
    public void A_umask_the_process_changed_is_reported_and_is_not_drift()
    {
        var lines = IsolationCheck.Compare(Root(SetgidSetuid) with { UMask = 0x17 }, State(0, 0, SetgidSetuid, SetgidSetuid, SetgidSetuid));
        var umask = lines.Single(l => l.Property == "umask");
        Assert.Equal(("0027", "0022 (set by the process itself)", CheckResult.Info), (umask.Declared, umask.Found, umask.Result));
        Assert.Equal(CheckResult.Match, IsolationCheck.Compare(Root(SetgidSetuid), State(0, 0, 0, 0, SetgidSetuid)).Single(l => l.Property == "umask").Result);
    }
}
