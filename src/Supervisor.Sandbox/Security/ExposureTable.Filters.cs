using Supervisor.Linux.Native;
using Supervisor.Units.Model;
using Supervisor.Units.Values;

namespace Supervisor.Sandbox.Security;

public static partial class ExposureTable
{
    private static ExposureCheck[] Filters =>
    [
        Namespace("user", Namespaces.User, 1500, "user"),
        Namespace("mnt", Namespaces.Mount, 500, "file system"),
        Namespace("ipc", Namespaces.Ipc, 500, "IPC"),
        Namespace("pid", Namespaces.Pid, 500, "process"),
        Namespace("cgroup", Namespaces.Cgroup, 500, "cgroup"),
        Namespace("net", Namespaces.Net, 500, "network"),
        Namespace("uts", Namespaces.Uts, 100, "hostname"),
        ExposureCheck.Bool("RestrictAddressFamilies=~AF_(INET|INET6)", 1500, "Service cannot allocate Internet sockets", "Service may allocate Internet sockets", f => f.RestrictInet),
        ExposureCheck.Bool("RestrictAddressFamilies=~AF_UNIX", 25, "Service cannot allocate local sockets", "Service may allocate local sockets", f => f.RestrictUnix),
        ExposureCheck.Bool("RestrictAddressFamilies=~AF_NETLINK", 200, "Service cannot allocate netlink sockets", "Service may allocate netlink sockets", f => f.RestrictNetlink),
        ExposureCheck.Bool("RestrictAddressFamilies=~AF_PACKET", 1000, "Service cannot allocate packet sockets", "Service may allocate packet sockets", f => f.RestrictPacket),
        ExposureCheck.Bool("RestrictAddressFamilies=~…", 1250, "Service cannot allocate exotic sockets", "Service may allocate exotic sockets", f => f.RestrictOtherFamilies),
        new("SystemCallArchitectures=", 1000, 10, f =>
            f.SyscallArchitectures.Count == 0 ? new(10, "Service may execute system calls with all ABIs")
            : f.SyscallArchitectures.Contains(SyscallArchitecture.Native) ? new(0, "Service may execute system calls only with native ABI")
            : new(8, "Service may execute system calls with multiple ABIs")),
        SyscallGroup("@swap", 1000), SyscallGroup("@obsolete", 250), SyscallGroup("@clock", 1000), SyscallGroup("@cpu-emulation", 250),
        SyscallGroup("@debug", 1000), SyscallGroup("@mount", 1000), SyscallGroup("@module", 1000), SyscallGroup("@raw-io", 1000),
        SyscallGroup("@reboot", 1000), SyscallGroup("@privileged", 700), SyscallGroup("@resources", 700),
        new("IPAddressDeny=", 1000, 10, IpAddresses),
        new("DeviceAllow=", 1000, 10, f =>
            f.DevicePolicy is DevicePolicy.Strict or DevicePolicy.Closed
                ? f.HasDeviceAllow ? new(5, "Service has a device ACL with some special devices") : new(0, "Service has a minimal device ACL")
                : new(10, "Service has no device ACL")),
    ];

    private static ExposureCheck Namespace(string id, Namespaces type, int weight, string what) =>
        ExposureCheck.Bool("RestrictNamespaces=~" + id, weight, $"Service cannot create {what} namespaces", $"Service may create {what} namespaces",
            f => (f.NamespacesAllowed & type) == 0);

    private static Assessment IpAddresses(SecurityFacts f) =>
        !f.IpDenyAll ? new(10, "Service does not define an IP address allow list")
        : f.IpAllowOther ? new(5, "Service defines IP address allow list with non-localhost entries")
        : f.IpAllowLocalhost ? new(2, "Service defines IP address allow list with only localhost entries")
        : new(0, "Service blocks all IP address ranges");

    /// <summary>
    /// systemd's assess_system_call_filter: an allow list is bad (9) when it admits any call of the
    /// group, a deny list bad (10) when it leaves any call of the group out. Calls this machine's
    /// architecture does not have are skipped, as systemd skips what libseccomp cannot resolve.
    /// </summary>
    private static ExposureCheck SyscallGroup(string group, int weight) => new("SystemCallFilter=~" + group, weight, 10, f =>
    {
        if (f.SyscallFilter is not { } filter || (!f.SyscallFilterIsAllowList && filter.Count == 0))
            return new(10, "Service does not filter system calls");
        var offender = SyscallTable.Expand(group).FirstOrDefault(call => ExistsHere(call) && filter.Contains(call) == f.SyscallFilterIsAllowList);
        return (f.SyscallFilterIsAllowList, offender) switch
        {
            (true, null) => new(0, $"System call allow list defined for service, and {group} is not included"),
            (true, _) => new(9, $"System call allow list defined for service, and {group} is included (e.g. {offender} is allowed)"),
            (false, null) => new(0, $"System call deny list defined for service, and {group} is included"),
            (false, _) => new(10, $"System call deny list defined for service, and {group} is not included (e.g. {offender} is allowed)"),
        };
    });

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> Resolvable = new(StringComparer.Ordinal);

    /// <summary>Whether libseccomp knows the call on this machine's architecture (its number is not negative).</summary>
    private static bool ExistsHere(string call) => Resolvable.GetOrAdd(call, c => Libseccomp.SyscallResolveName(c) >= 0);
}
