using Supervisor.Sandbox.Capabilities;
using Supervisor.Sandbox.Compiler;
using Supervisor.Sandbox.Tests.Support;
using Supervisor.Units.Model;
using UnitNs = Supervisor.Units.Model.Namespaces;

namespace Supervisor.Sandbox.Tests;

/// <summary>UnitDefinition → ExecPlan: pure, deterministic, and every bad input caught before a spawn.</summary>
public class CompilerTests
{
    private const string Passwd = "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
    private const string Group = "root:x:0:\nwww-data:x:33:\nadm:x:4:www-data\nnogroup:x:65534:\n";

    private static CompileContext Ctx(int lastCap = 40, ulong? held = null, bool appArmor = false) => new()
    {
        Host = new HostFacts(lastCap, held ?? CapabilityTable.HostMask(lastCap), appArmor, false),
        Users = UserDatabase.Parse(Passwd, Group),
        CgroupProcsFiles = ["/sys/fs/cgroup/memory/web/cgroup.procs"],
    };

    private static UnitDefinition Unit(ServiceSection? service = null, SandboxSection? sandbox = null) => new()
    {
        Name = "web",
        Kind = UnitKind.Service,
        Sources = ValueList.Of("/etc/supervisor/units/web.toml"),
        Service = service ?? new ServiceSection { ExecStart = new Command(ValueList.Of("/bin/sh", "-c", "true"), false) },
        Sandbox = sandbox ?? new SandboxSection(),
    };

    private static ServiceSection Run(string program = "/bin/sh") => new() { ExecStart = new Command(ValueList.Of(program, "-c", "true"), false) };

    private static PlanCompileException Fails(UnitDefinition unit, CompileContext? ctx = null) =>
        Assert.Throws<PlanCompileException>(() => ExecPlanCompiler.Compile(unit, ctx ?? Ctx()));

    [Fact]
    public void The_same_unit_always_gives_the_same_plan()
    {
        var unit = Unit(Run() with { User = "www-data" }, new SandboxSection
        {
            Namespaces = UnitNs.Pid | UnitNs.Net,
            ProtectSystem = ProtectSystem.Strict,
            PrivateTmp = true,
            SystemCallFilter = new SyscallFilter(true, ValueList.Of(new SyscallFilterEntry(false, ValueList.Of("@system-service")))),
        });
        Assert.Equal(HelperProtocol.Serialize(ExecPlanCompiler.Compile(unit, Ctx())), HelperProtocol.Serialize(ExecPlanCompiler.Compile(unit, Ctx())));
    }

    [Fact]
    public void Root_without_settings_keeps_the_full_bounding_set_in_permitted_and_effective()
    {
        var plan = ExecPlanCompiler.Compile(Unit(), Ctx());
        var all = CapabilityTable.HostMask(40);
        Assert.Equal(new CapabilitySets(all, all, all, 0, 0), plan.Capabilities);
        Assert.Null(plan.Identity);
        Assert.False(plan.NoNewPrivileges);
        Assert.Empty(plan.Mounts);
        Assert.Equal("/sys/fs/cgroup/memory/web", plan.CgroupJoins.Single().Directory);
        // systemd's KeyringMode=private: nothing of the supervisor's session keyring reaches a service.
        Assert.Equal(KeyringMode.Private, plan.Keyring);
    }

    [Fact]
    public void Bounding_set_deny_list_and_the_supervisors_own_capabilities_limit_the_sets()
    {
        int sysAdmin = CapabilityTable.Parse("CAP_SYS_ADMIN"), sysResource = CapabilityTable.Parse("CAP_SYS_RESOURCE");
        var held = CapabilityTable.HostMask(40) & ~(1UL << sysResource);
        var plan = ExecPlanCompiler.Compile(Unit(sandbox: new SandboxSection { CapabilityBoundingSet = new CapabilitySet(ValueList.Of(sysAdmin), true) }), Ctx(held: held));
        Assert.Equal(held & ~(1UL << sysAdmin), plan.Capabilities!.Bounding);
        Assert.Equal(plan.Capabilities.Bounding, plan.Capabilities.Permitted);
    }

    [Fact]
    public void Non_root_user_keeps_only_ambient_capabilities_and_gets_its_groups()
    {
        int nbs = CapabilityTable.Parse("CAP_NET_BIND_SERVICE");
        var plan = ExecPlanCompiler.Compile(Unit(Run() with { User = "www-data" }, new SandboxSection
        {
            CapabilityBoundingSet = new CapabilitySet(ValueList.Of(nbs), false),
            AmbientCapabilities = ValueList.Of(nbs),
        }), Ctx());
        ulong m = 1UL << nbs;
        Assert.Equal(new CapabilitySets(m, m, m, m, m), plan.Capabilities);
        Assert.Equal(new Identity(33, 33, [4]).Uid, plan.Identity!.Uid);
        Assert.Equal([4u], plan.Identity.SupplementaryGroups);
        Assert.Contains("HOME=/var/www", plan.Environment);
        Assert.Contains("USER=www-data", plan.Environment);
    }

    [Fact]
    public void A_seccomp_filter_implies_no_new_privs_unless_CAP_SYS_ADMIN_is_kept()
    {
        var filter = new SyscallFilter(true, ValueList.Of(new SyscallFilterEntry(false, ValueList.Of("@system-service"))));
        var asUser = ExecPlanCompiler.Compile(Unit(Run() with { User = "nobody" }, new SandboxSection { SystemCallFilter = filter }), Ctx());
        Assert.True(asUser.NoNewPrivileges);
        Assert.NotEmpty(asUser.SeccompBpf);
        var asRoot = ExecPlanCompiler.Compile(Unit(sandbox: new SandboxSection { SystemCallFilter = filter }), Ctx());
        Assert.False(asRoot.NoNewPrivileges);
    }

    [Fact]
    public void Deny_list_with_exceptions_differs_from_the_plain_deny_list()
    {
        var deny = new SyscallFilter(false, ValueList.Of(new SyscallFilterEntry(true, ValueList.Of("@privileged"))));
        var denyExcept = new SyscallFilter(false, ValueList.Of(new SyscallFilterEntry(true, ValueList.Of("@privileged")), new SyscallFilterEntry(false, ValueList.Of("chown"))));
        Assert.NotEqual(ExecPlanCompiler.Compile(Unit(sandbox: new SandboxSection { SystemCallFilter = deny }), Ctx()).SeccompBpf.ToArray(),
            ExecPlanCompiler.Compile(Unit(sandbox: new SandboxSection { SystemCallFilter = denyExcept }), Ctx()).SeccompBpf.ToArray());
    }

    [Fact]
    public void Protect_settings_become_mount_operations_in_order()
    {
        var plan = ExecPlanCompiler.Compile(Unit(sandbox: new SandboxSection
        {
            Namespaces = UnitNs.Pid,
            ProtectSystem = ProtectSystem.Strict,
            ProtectHome = ProtectHome.Yes,
            PrivateTmp = true,
            PrivateDevices = true,
            ReadWritePaths = ValueList.Of(new OptionalPath("/var/tmp", false)),
            ProtectKernelTunables = true,
            ProtectControlGroups = true,
            ProtectProc = ProtectProc.Invisible,
        }), Ctx());
        Assert.True((plan.Namespaces & NamespaceFlags.Mount) != 0, "a pid namespace implies a mount namespace");
        var ops = plan.Mounts.ToList();
        int Index(Func<MountOperation, bool> f) => ops.FindIndex(o => f(o));
        Assert.Equal(0, Index(o => o is RemountMount { Path: "/", ReadOnly: true }));
        Assert.True(Index(o => o is ProcMount { Options: "hidepid=invisible" }) > 0);
        Assert.True(Index(o => o is InaccessibleMount { Path: "/home" }) > 0);
        Assert.True(Index(o => o is MinimalDevMount) > 0);
        Assert.True(Index(o => o is TmpfsMount { Target: "/tmp" }) > 0);
        Assert.True(Index(o => o is RemountMount { Path: "/var/tmp", ReadOnly: false }) > Index(o => o is RemountMount { Path: "/", ReadOnly: true }));
        Assert.True(Index(o => o is RemountMount { Path: "/proc/sys", ReadOnly: true }) > Index(o => o is ProcMount));
        Assert.True(Index(o => o is RemountMount { Path: "/sys/fs/cgroup", ReadOnly: true }) > 0);
    }

    [Fact]
    public void Protect_system_true_and_full()
    {
        var yes = ExecPlanCompiler.Compile(Unit(sandbox: new SandboxSection { ProtectSystem = ProtectSystem.Yes }), Ctx()).Mounts;
        Assert.Contains(new RemountMount("/usr", true, true, true), yes);
        Assert.DoesNotContain(yes, o => o is RemountMount { Path: "/etc" });
        var full = ExecPlanCompiler.Compile(Unit(sandbox: new SandboxSection { ProtectSystem = ProtectSystem.Full }), Ctx()).Mounts;
        Assert.Contains(new RemountMount("/etc", true), full);
    }

    [Fact]
    public void User_namespace_maps_service_root_to_host_uid_100000()
    {
        var plan = ExecPlanCompiler.Compile(Unit(sandbox: new SandboxSection { Namespaces = UnitNs.User }), Ctx());
        Assert.Equal([new IdMapEntry(0, 100000, 65536)], plan.UidMap);
        Assert.Equal(new Identity(0, 0, []).Uid, plan.Identity!.Uid);
    }

    [Fact]
    public void Bad_input_is_one_precise_error_naming_unit_key_and_cause()
    {
        Assert.Equal("web: ExecStart: '/nonexistent/bin/site' does not exist", Fails(Unit(Run("/nonexistent/bin/site"))).Message);
        var user = Fails(Unit(Run() with { User = "nosuchuser" }));
        Assert.Equal(("User", "web: User: user 'nosuchuser' does not exist"), (user.Key, user.Message));
        Assert.Equal("web: ReadWritePaths: '/var/lib/nonexistent-site' does not exist",
            Fails(Unit(sandbox: new SandboxSection { ReadWritePaths = ValueList.Of(new OptionalPath("/var/lib/nonexistent-site", false)) })).Message);
        // "-" makes a missing path fine.
        ExecPlanCompiler.Compile(Unit(sandbox: new SandboxSection { ReadWritePaths = ValueList.Of(new OptionalPath("/var/lib/nonexistent-site", true)) }), Ctx());
        var cap = Fails(Unit(sandbox: new SandboxSection { CapabilityBoundingSet = new CapabilitySet(ValueList.Of(40), false) }), Ctx(lastCap: 38));
        Assert.Equal("web: CapabilityBoundingSet: CAP_CHECKPOINT_RESTORE is not known to the host kernel (its last capability is CAP_PERFMON, number 38)", cap.Message);
        var sys = Fails(Unit(sandbox: new SandboxSection { SystemCallFilter = new SyscallFilter(true, ValueList.Of(new SyscallFilterEntry(false, ValueList.Of("cacheflush")))) }));
        Assert.Equal("SystemCallFilter", sys.Key);
        Assert.Contains("unknown system call 'cacheflush' on this architecture", sys.Message);
        Assert.Equal("web: cannot apply AppArmorProfile=supervisor-site: AppArmor is not enabled on this host",
            Fails(Unit(sandbox: new SandboxSection { AppArmorProfile = new Units.Model.OptionalLabel("supervisor-site", false) })).Message);
        Assert.Equal("web: cannot apply SELinuxContext=system_u:system_r:httpd_t:s0: SELinux is not enabled on this host",
            Fails(Unit(sandbox: new SandboxSection { SELinuxContext = new Units.Model.OptionalLabel("system_u:system_r:httpd_t:s0", false) })).Message);
        using var root = new TempDir();
        var noBinary = Fails(Unit(sandbox: new SandboxSection { RootDirectory = root.Path }));
        Assert.Equal("RootDirectory", noBinary.Key);
        Assert.Contains("does not contain the program '/bin/sh'", noBinary.Message);
        Assert.Equal("AmbientCapabilities", Fails(Unit(sandbox: new SandboxSection
        {
            CapabilityBoundingSet = new CapabilitySet(ValueList.Of(0), false),
            AmbientCapabilities = ValueList.Of(10),
        })).Key);
    }

    [Fact]
    public void Other_commands_compile_into_the_same_sandbox()
    {
        var unit = Unit(sandbox: new SandboxSection { Namespaces = UnitNs.Pid, ProtectSystem = ProtectSystem.Full });
        var main = ExecPlanCompiler.Compile(unit, Ctx());
        var pre = ExecPlanCompiler.Compile(unit, Ctx(), new Command(ValueList.Of("/bin/true"), false));
        Assert.Equal("/bin/true", pre.Path);
        // Everything but the command is the same, byte for byte.
        Assert.Equal(HelperProtocol.Serialize(main), HelperProtocol.Serialize(pre with { Path = main.Path, Argv = main.Argv }));
    }

    [Fact]
    public void A_skippable_LSM_label_is_kept_in_the_plan_for_the_helper_to_report()
    {
        var plan = ExecPlanCompiler.Compile(Unit(sandbox: new SandboxSection { AppArmorProfile = new Units.Model.OptionalLabel("supervisor-site", true) }), Ctx());
        Assert.Equal(new LsmLabel(LsmKind.AppArmor, "supervisor-site", true), plan.Lsm);
    }
}
