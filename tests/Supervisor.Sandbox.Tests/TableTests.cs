using Supervisor.Units.Values;
using Supervisor.Sandbox.Capabilities;
using Supervisor.Sandbox.Seccomp;

namespace Supervisor.Sandbox.Tests;

public class TableTests
{
    [Theory]
    [InlineData("CAP_CHOWN", 0)]
    [InlineData("cap_net_admin", 12)]
    [InlineData("NET_BIND_SERVICE", 10)]
    [InlineData("Sys_Admin", 21)]
    [InlineData("CAP_CHECKPOINT_RESTORE", 40)]
    [InlineData("bpf", 39)]
    public void Capability_names_parse_with_or_without_prefix_in_any_case(string name, int number)
    {
        Assert.Equal(number, CapabilityTable.Parse(name));
        Assert.Equal(number, CapabilityTable.Parse(CapabilityTable.NameOf(number)));
    }

    [Fact]
    public void Capability_table_matches_the_kernel_headers_and_the_host()
    {
        Assert.Equal(41, CapabilityTable.All.Count);
        Assert.Equal(CapabilityTable.All.Count, CapabilityTable.All.Distinct().Count());
        // The host kernel knows exactly this many (6.x: 40 = CAP_CHECKPOINT_RESTORE).
        Assert.True(CapabilityTable.HostLastCap() <= CapabilityTable.LastKnown);
        Assert.Equal((1UL << 41) - 1, CapabilityTable.HostMask(40));
        Assert.Equal(0x400UL | 0x1UL, CapabilityTable.Mask(["chown", "CAP_NET_BIND_SERVICE"]));
        Assert.Equal(["CAP_CHOWN", "CAP_NET_BIND_SERVICE"], CapabilityTable.NamesOf(0x401));
        CapabilityTable.EnsureHostSupports(40, 40);
    }

    [Fact]
    public void Syscall_groups_expand_nested_groups()
    {
        Assert.True(SyscallGroups.TryGet("@system-service", out var service));
        Assert.True(SyscallGroups.TryGet("@basic-io", out var basic));
        Assert.Superset(basic.ToHashSet(), service.ToHashSet());
        Assert.Contains("capset", service);
        Assert.DoesNotContain(service, m => m.StartsWith('@'));
        Assert.False(SyscallGroups.TryGet("@nonexistent", out _));
        Assert.Contains("@privileged", SyscallGroups.Names);
    }

    [Fact]
    public void The_strict_service_set_is_system_service_without_the_listed_calls()
    {
        Assert.True(SyscallGroups.TryGet("@system-service", out var service));
        Assert.True(SyscallGroups.TryGet("@system-service-strict", out var strict));
        var removed = SyscallTable.StrictServiceRemovals.Select(r => r.Call).ToHashSet();
        Assert.Contains("keyctl", removed);
        Assert.Contains("io_uring_setup", removed);
        Assert.Contains("userfaultfd", removed);
        Assert.Subset(service.ToHashSet(), removed);
        Assert.True(strict.ToHashSet().SetEquals(service.Except(removed)));
        Assert.Contains("read", strict);
        Assert.Contains("setuid", strict);
    }

    [Fact]
    public void Every_group_matches_systemd_analyze_on_this_machine()
    {
        if (!File.Exists("/usr/bin/systemd-analyze") && !File.Exists("/bin/systemd-analyze"))
            Assert.Skip("systemd-analyze is not installed: nothing to compare the embedded table with");
        var live = SyscallGroups.Expand(SyscallGroups.Parse(Support.Host.Run("systemd-analyze", "syscall-filter")));
        Assert.Equal(live.Keys.Order(), SyscallGroups.Names.Except(SyscallTable.OwnGroups).Order());
        foreach (var (name, members) in live)
        {
            Assert.True(SyscallGroups.TryGet(name, out var ours));
            Assert.True(members.SetEquals(ours), $"{name} differs from systemd-analyze: missing [{string.Join(' ', members.Except(ours))}], extra [{string.Join(' ', ours.Except(members))}]");
        }
    }
}
