using Supervisor.Sandbox.Capabilities;
using Supervisor.Sandbox.Compiler;
using Supervisor.Units.Model;
using UnitNs = Supervisor.Units.Model.Namespaces;

namespace Supervisor.Sandbox.Tests;

/// <summary>The namespace directives in the plan: flags, id maps, mount operations and their order, and the errors before a spawn.</summary>
public class NamespaceCompilerTests
{
    private const string Passwd = "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
    private const string Group = "root:x:0:\nwww-data:x:33:\nadm:x:4:www-data\nnogroup:x:65534:\n";
    private const string Socket = "/tmp/sbx-runtime/notify/web";

    private static CompileContext Ctx(string? notify = null) => new()
    {
        Host = new HostFacts(40, CapabilityTable.HostMask(40), false, false),
        Users = UserDatabase.Parse(Passwd, Group),
        NotifySocket = notify,
    };

    private static ExecPlan Compile(SandboxSection sandbox, string? user = null, string? notify = null, string program = "/bin/sh") =>
        ExecPlanCompiler.Compile(new UnitDefinition
        {
            Name = "web",
            Kind = UnitKind.Service,
            Sources = ValueList.Of("/etc/supervisor/units/web.toml"),
            Service = new ServiceSection { ExecStart = new Command(ValueList.Of(program), false), User = user },
            Sandbox = sandbox,
        }, Ctx(notify));

    private static PlanCompileException Fails(SandboxSection sandbox, string? notify = null, string program = "/bin/sh") =>
        Assert.Throws<PlanCompileException>(() => Compile(sandbox, notify: notify, program: program));

    [Fact]
    public void The_Private_keys_give_the_same_namespaces_as_the_Namespaces_list()
    {
        var named = Compile(new SandboxSection { PrivateNetwork = true, PrivatePIDs = true, PrivateMounts = true, PrivateIPC = true });
        var listed = Compile(new SandboxSection { Namespaces = UnitNs.Net | UnitNs.Pid | UnitNs.Mount | UnitNs.Ipc });
        Assert.Equal(NamespaceFlags.Net | NamespaceFlags.Pid | NamespaceFlags.Mount | NamespaceFlags.Ipc, named.Namespaces);
        Assert.Equal(named.Namespaces, listed.Namespaces);
        Assert.True(named.LoopbackUp);
        Assert.Equal(HelperProtocol.Serialize(listed), HelperProtocol.Serialize(named));
    }

    [Fact]
    public void An_IPC_namespace_brings_a_mount_namespace_for_its_own_mqueue()
    {
        var plan = Compile(new SandboxSection { PrivateIPC = true, PrivateDevices = true });
        Assert.Equal(NamespaceFlags.Ipc | NamespaceFlags.Mount, plan.Namespaces);
        Assert.Contains(new MqueueMount("/dev/mqueue", Optional: false, Create: true), plan.Mounts);
        // Without a private /dev it is mounted only where the host has /dev/mqueue: nothing is created there.
        Assert.Contains(Compile(new SandboxSection { PrivateIPC = true }).Mounts, m => m is MqueueMount { Optional: true, Create: false });
    }

    [Fact]
    public void PrivateUsers_maps_root_the_service_ids_and_nobody_to_themselves()
    {
        var plan = Compile(new SandboxSection { PrivateUsers = true }, user: "www-data");
        Assert.Equal([new IdMapEntry(0, 0, 1), new IdMapEntry(33, 33, 1), new IdMapEntry(65534, 65534, 1)], plan.UidMap);
        // adm (4) is a supplementary group of www-data: setgroups() needs it mapped too.
        Assert.Equal([new IdMapEntry(0, 0, 1), new IdMapEntry(4, 4, 1), new IdMapEntry(33, 33, 1), new IdMapEntry(65534, 65534, 1)], plan.GidMap);
        Assert.Equal((33u, 33u, "4"), (plan.Identity!.Uid, plan.Identity.Gid, string.Join(",", plan.Identity.SupplementaryGroups)));
        Assert.Equal([new IdMapEntry(0, 0, 1), new IdMapEntry(65534, 65534, 1)], Compile(new SandboxSection { PrivateUsers = true }, user: "nobody").UidMap);
        Assert.Equal([new IdMapEntry(0, 0, 1), new IdMapEntry(65534, 65534, 1)], Compile(new SandboxSection { PrivateUsers = true }).UidMap);
    }

    [Fact]
    public void A_proc_in_a_user_namespace_without_its_own_pid_namespace_is_made_before_it()
    {
        var early = Compile(new SandboxSection { PrivateUsers = true, ProtectProc = ProtectProc.Invisible });
        Assert.Contains(new ProcMount("/proc", "hidepid=invisible", Early: true), early.Mounts);
        var own = Compile(new SandboxSection { PrivateUsers = true, PrivatePIDs = true, ProtectProc = ProtectProc.Invisible });
        Assert.Contains(new ProcMount("/proc", "hidepid=invisible", Early: false), own.Mounts);
    }

    [Fact]
    public void TemporaryFileSystem_mounts_outer_paths_first_and_before_the_binds_into_it()
    {
        var plan = Compile(new SandboxSection
        {
            TemporaryFileSystem = ValueList.Of(new TemporaryFileSystem("/var/lib/new", ValueList.Of("ro")), new TemporaryFileSystem("/var", ValueList.Of("mode=0700", "size=1M"))),
            BindReadOnlyPaths = ValueList.Of(new Units.Model.BindPath("/etc", "/var/etc", false, true)),
        });
        var ops = plan.Mounts.ToList();
        int outer = ops.FindIndex(o => o is TmpfsMount { Target: "/var", Mode: 0x1C0, Options: "size=1M", ReadOnly: false, Create: false });
        int inner = ops.FindIndex(o => o is TmpfsMount { Target: "/var/lib/new", ReadOnly: true, Create: true });
        int bind = ops.FindIndex(o => o is BindMount { Target: "/var/etc", Create: true });
        Assert.True(outer >= 0 && inner > outer && bind > inner, string.Join("\n", ops.Select(o => o.Describe())));
    }

    [Fact]
    public void NoExecPaths_and_ExecPaths_come_after_every_mount_a_path_before_the_paths_below_it()
    {
        // /bin is a link to usr/bin on a merged-/usr system: the program resolves below /usr/bin.
        var plan = Compile(new SandboxSection
        {
            ExecPaths = ValueList.Of(new OptionalPath("/usr/bin", false), new OptionalPath("/usr", false)),
            NoExecPaths = ValueList.Of(new OptionalPath("/", false)),
            ProtectKernelTunables = true,
        }, program: "/usr/bin/env");
        var exec = plan.Mounts.OfType<ExecAttributeMount>().ToList();
        Assert.Equal([new ExecAttributeMount("/", true), new ExecAttributeMount("/usr", false), new ExecAttributeMount("/usr/bin", false)], exec);
        Assert.IsType<ExecAttributeMount>(plan.Mounts[^3]);
        Assert.True(plan.Mounts.IndexOf(exec[0]) > plan.Mounts.ToList().FindLastIndex(m => m is RemountMount));
    }

    [Fact]
    public void Exec_paths_and_the_program_are_judged_by_where_their_links_lead()
    {
        if (new DirectoryInfo("/lib").LinkTarget is null || new DirectoryInfo("/bin").LinkTarget is null)
            Assert.Skip("needs a merged-/usr host, where /bin and /lib are links into /usr");
        // Debian's redis unit: NoExecPaths=/ ExecPaths=/usr/bin/redis-server /usr/lib /lib.
        var plan = Compile(new SandboxSection
        {
            NoExecPaths = ValueList.Of(new OptionalPath("/", false)),
            ExecPaths = ValueList.Of(new OptionalPath("/usr/bin", false), new OptionalPath("/lib", false), new OptionalPath("/usr/lib", false)),
        }, program: "/bin/sh");
        Assert.Equal([new ExecAttributeMount("/", true), new ExecAttributeMount("/usr/bin", false), new ExecAttributeMount("/usr/lib", false)],
            plan.Mounts.OfType<ExecAttributeMount>());
    }

    [Fact]
    public void A_program_below_NoExecPaths_or_inside_a_fresh_tmpfs_is_refused_before_a_spawn()
    {
        var noexec = Fails(new SandboxSection { NoExecPaths = ValueList.Of(new OptionalPath("/usr", false)) }, program: "/usr/bin/env");
        Assert.Equal(("NoExecPaths", "web: NoExecPaths: the program '/usr/bin/env' is below '/usr', where nothing can be executed; add the program or its directory to ExecPaths"),
            (noexec.Key, noexec.Message));
        Compile(new SandboxSection { NoExecPaths = ValueList.Of(new OptionalPath("/usr", false)), ExecPaths = ValueList.Of(new OptionalPath("/usr/bin", false)) }, program: "/usr/bin/env");
        var hidden = Fails(new SandboxSection { TemporaryFileSystem = ValueList.Of(new TemporaryFileSystem("/usr", ValueList<string>.Empty)) }, program: "/usr/bin/env");
        Assert.Equal("web: ExecStart: '/usr/bin/env' is under '/usr', which the sandbox replaces with an empty tmpfs; the program would not be there", hidden.Message);
    }

    [Fact]
    public void The_notify_socket_is_bound_where_a_mount_of_the_plan_hides_it_and_left_alone_elsewhere()
    {
        var hidden = Compile(new SandboxSection { PrivateTmp = true }, notify: Socket);
        Assert.Equal(new BindMount(Socket, Socket, ReadOnly: true, Recursive: false, Create: true), hidden.Mounts[^1]);
        Assert.Contains($"NOTIFY_SOCKET={Socket}", hidden.Environment);
        var visible = Compile(new SandboxSection { ProtectSystem = ProtectSystem.Strict }, notify: "/run/supervisor/notify/web");
        Assert.DoesNotContain(visible.Mounts, m => m is BindMount);
        var under = Compile(new SandboxSection { TemporaryFileSystem = ValueList.Of(new TemporaryFileSystem("/run", ValueList.Of("ro"))) }, notify: "/run/supervisor/notify/web");
        Assert.Equal(new BindMount("/run/supervisor/notify/web", "/run/supervisor/notify/web", true, false, false, true), under.Mounts[^1]);
    }

    [Fact]
    public void A_view_that_makes_the_notify_socket_unreachable_is_refused_with_the_key_to_change()
    {
        var e = Fails(new SandboxSection { InaccessiblePaths = ValueList.Of(new OptionalPath("/run", false)) }, notify: "/run/supervisor/notify/web");
        Assert.Equal(("InaccessiblePaths", "web: InaccessiblePaths: makes the notify socket '/run/supervisor/notify/web' unreachable; the service could not report READY=1"), (e.Key, e.Message));
        var b = Fails(new SandboxSection { BindPaths = ValueList.Of(new Units.Model.BindPath("/etc", "/run", false, true)) }, notify: "/run/supervisor/notify/web");
        Assert.Equal("BindPaths", b.Key);
    }

    [Fact]
    public void A_missing_bind_target_is_made_in_a_fresh_tmpfs_or_first_in_an_existing_directory_and_refused_elsewhere()
    {
        var e = Fails(new SandboxSection { BindPaths = ValueList.Of(new Units.Model.BindPath("/etc", "/nonexistent-sbx/etc", false, true)) });
        Assert.Equal("web: BindPaths: the mount point '/nonexistent-sbx/etc' does not exist, nor does its directory", e.Message);
        var fresh = Compile(new SandboxSection { PrivateTmp = true, BindPaths = ValueList.Of(new Units.Model.BindPath("/etc", "/tmp/nonexistent-sbx/etc", false, true)) });
        Assert.Contains(new BindMount("/etc", "/tmp/nonexistent-sbx/etc", false, true, false, true), fresh.Mounts);
        Assert.DoesNotContain(fresh.Mounts, m => m is MkdirOperation);
        // In an existing directory the node is made first, before ProtectSystem makes the view read-only.
        var first = Compile(new SandboxSection
        {
            ProtectSystem = ProtectSystem.Strict,
            BindReadOnlyPaths = ValueList.Of(new Units.Model.BindPath("/etc/hostname", "/etc/nonexistent-sbx-h", false, true), new Units.Model.BindPath("/etc", "/nonexistent-sbx-d", false, true)),
        });
        Assert.Equal([new MkdirOperation("/etc/nonexistent-sbx-h", 0x1A4, File: true), new MkdirOperation("/nonexistent-sbx-d")], first.Mounts.Take(2));
        Assert.Contains(new BindMount("/etc/hostname", "/etc/nonexistent-sbx-h", true, true), first.Mounts);
    }
}
