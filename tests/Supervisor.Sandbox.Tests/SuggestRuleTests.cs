using Supervisor.Sandbox.Seccomp;
using Supervisor.Sandbox.Suggest;
using Supervisor.Units.Values;

namespace Supervisor.Sandbox.Tests;

/// <summary>
/// The rules behind `security --suggest`, pure: which @groups the learned calls become, which
/// capabilities count as never used, and which namespaces the service tolerates losing.
/// </summary>
public class SuggestRuleTests
{
    private static readonly IReadOnlySet<string> Default = SyscallTable.Expand("@default");

    private static LearnedUse Use(string[] learned, Dictionary<string, ulong[]>? arguments = null, string[]? unobserved = null, int[]? families = null) => new(
        new HashSet<string>(learned), new HashSet<int>(families ?? []),
        (arguments ?? []).ToDictionary(kv => kv.Key, kv => (IReadOnlySet<ulong>)new HashSet<ulong>(kv.Value)),
        new HashSet<string>(Default.Concat(unobserved ?? [])));

    private static IReadOnlySet<string> Members(string group) =>
        SyscallTable.Expand(group).Where(c => !Default.Contains(c) && SeccompCompiler.IsKnownOnThisArch(c)).ToHashSet();

    [Fact]
    public void A_group_is_named_when_at_least_half_of_its_calls_were_used_and_singly_below()
    {
        var basic = Members("@basic-io").Order(StringComparer.Ordinal).ToList();
        var most = basic.Take(basic.Count / 2 + 1).ToHashSet();
        var entries = SyscallGrouping.Group(most, Default);
        Assert.Equal("@basic-io", Assert.Single(entries).Entry);
        Assert.Equal(most.Order(StringComparer.Ordinal), entries[0].Covers.Order(StringComparer.Ordinal));

        var few = basic.Take(basic.Count / 2 - 1).ToHashSet();
        Assert.Equal(few.Order(StringComparer.Ordinal), SyscallGrouping.Group(few, Default).Select(e => e.Entry));
    }

    [Fact]
    public void A_group_that_would_add_a_dangerous_call_the_service_did_not_make_is_never_named()
    {
        // @chown is in @privileged: three of its four calls used, the fourth is dangerous, so names only.
        var chown = Members("@chown").Order(StringComparer.Ordinal).ToList();
        var used = chown.Skip(1).ToHashSet();
        Assert.True(used.Count * 2 >= chown.Count);
        Assert.Equal(used.Order(StringComparer.Ordinal), SyscallGrouping.Group(used, Default).Select(e => e.Entry));
        // Every call of it used: nothing dangerous is added, so the group is named.
        Assert.Equal("@chown", Assert.Single(SyscallGrouping.Group(chown.ToHashSet(), Default)).Entry);
        // A dangerous call made is allowed by name, and said to be dangerous.
        var keyctl = Assert.Single(SyscallGrouping.Group(new HashSet<string> { "keyctl" }, Default));
        Assert.Equal("keyctl", keyctl.Entry);
        Assert.Contains("dangerous", keyctl.Why);
    }

    [Fact]
    public void Calls_already_allowed_are_not_repeated()
    {
        Assert.Empty(SyscallGrouping.Group(new HashSet<string> { "getpid", "read" }, new HashSet<string>(Default) { "read" }));
    }

    private static CapabilityVerdict Verdict(LearnedUse use, string cap) => CapabilityUse.Judge(use).Single(v => v.Name == cap);

    [Fact]
    public void A_capability_is_never_used_only_when_no_call_that_can_need_it_was_made()
    {
        var redisLike = Use(["bind", "socket", "setsockopt", "ioctl", "clone"], new()
        {
            ["socket"] = [LearnedArgument.Socket(2, 1, 0), LearnedArgument.Socket(1, 1, 0)],
            ["setsockopt"] = [LearnedArgument.SocketOption(1, 2), LearnedArgument.SocketOption(6, 1)],
            ["ioctl"] = [0x5401],
            ["clone"] = [0],
        }, families: [1, 2]);
        Assert.True(Verdict(redisLike, "CAP_NET_BIND_SERVICE").MayBeNeeded);
        Assert.Equal("bind was called", Verdict(redisLike, "CAP_NET_BIND_SERVICE").Why);
        foreach (var unused in new[] { "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_LINUX_IMMUTABLE" })
            Assert.False(Verdict(redisLike, unused).MayBeNeeded, unused);
        // Path-dependent ones are kept whatever was called.
        Assert.True(Verdict(redisLike, "CAP_DAC_OVERRIDE").MayBeNeeded);
        Assert.True(Verdict(redisLike, "CAP_FOWNER").MayBeNeeded);

        var raw = Use(["socket", "setsockopt", "ioctl", "setresuid", "unshare"], new()
        {
            ["socket"] = [LearnedArgument.Socket(17, 3, 0)],
            ["setsockopt"] = [LearnedArgument.SocketOption(1, 36)], // SO_MARK
            ["ioctl"] = [0x8914], // SIOCSIFFLAGS
            ["unshare"] = [0x40000000],
        });
        foreach (var used in new[] { "CAP_NET_RAW", "CAP_NET_ADMIN", "CAP_SETUID", "CAP_SYS_ADMIN", "CAP_LINUX_IMMUTABLE" })
            Assert.True(Verdict(raw, used).MayBeNeeded, used);
    }

    [Fact]
    public void A_call_allowed_unreported_while_learning_counts_as_made_with_any_argument()
    {
        var use = Use(["read"], unobserved: ["chown", "ioctl"]);
        Assert.True(Verdict(use, "CAP_CHOWN").MayBeNeeded);
        Assert.Contains("not observed", Verdict(use, "CAP_CHOWN").Why);
        Assert.True(Verdict(use, "CAP_SYS_ADMIN").MayBeNeeded); // an ioctl of unknown request
        // A call learned before arguments were recorded is taken with any argument too.
        Assert.True(Verdict(Use(["socket"]), "CAP_NET_RAW").MayBeNeeded);
    }

    [Fact]
    public void Namespaces_come_from_the_flags_of_clone_unshare_and_setns_and_are_unknown_when_those_were_not_seen()
    {
        Assert.Equal([], NamespaceUse.TypesUsed(Use(["clone", "clone3"], new() { ["clone"] = [0x3d0f00], ["clone3"] = [0] })));
        Assert.Equal(["net", "user"], NamespaceUse.TypesUsed(Use(["unshare"], new() { ["unshare"] = [0x50000000] })));
        Assert.Equal(["cgroup", "ipc", "mnt", "net", "pid", "user", "uts"], NamespaceUse.TypesUsed(Use(["setns"], new() { ["setns"] = [LearnedArgument.NamespaceFlags] })));
        Assert.Null(NamespaceUse.TypesUsed(Use([], unobserved: ["clone"])));
        // A user namespace alone needs no CAP_SYS_ADMIN; any other type does.
        Assert.Null(NamespaceUse.Evidence(Use(["unshare"], new() { ["unshare"] = [0x10000000] })));
        Assert.NotNull(NamespaceUse.Evidence(Use(["unshare"], new() { ["unshare"] = [0x20000000] })));
    }

    [Fact]
    public void The_decisive_argument_is_packed_per_call()
    {
        Assert.Equal(LearnedArgument.Socket(2, 1, 6), LearnedArgument.Of("socket", [2, 0x80801, 6, 0, 0, 0])); // SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK
        Assert.Equal(0x5401UL, LearnedArgument.Of("ioctl", [3, 0x5401, 0, 0, 0, 0]));
        Assert.Equal(LearnedArgument.NamespaceFlags, LearnedArgument.Of("setns", [3, 0, 0, 0, 0, 0]));
        Assert.Equal(0x40000000UL, LearnedArgument.Of("unshare", [0x40000000 | 0x200, 0, 0, 0, 0, 0]));
        var clone3 = new byte[LearnedArgument.Clone3ArgsRead];
        BitConverter.GetBytes(0x20000000UL | 0x100).CopyTo(clone3, 0);
        BitConverter.GetBytes(1UL).CopyTo(clone3, 72);
        Assert.Equal(0x20000000UL | LearnedArgument.Clone3SetTid, LearnedArgument.Of("clone3", [0, 88, 0, 0, 0, 0], clone3));
        Assert.Equal(LearnedArgument.NamespaceFlags | LearnedArgument.Clone3SetTid, LearnedArgument.Of("clone3", [0, 88, 0, 0, 0, 0]));
        Assert.Null(LearnedArgument.Of("read", [0, 0, 0, 0, 0, 0]));
    }
}
