using System.Globalization;
using Supervisor.Linux;
using Supervisor.Sandbox.Compiler;
using Supervisor.Sandbox.Inspect;
using Supervisor.Sandbox.Launch;
using Supervisor.Sandbox.Tests.Support;
using Supervisor.Units;
using Supervisor.Units.Model;

namespace Supervisor.Sandbox.Tests;

/// <summary>
/// Issue #14, identity: UMask, DynamicUser (the allocated pair, systemd's implied protections, a
/// static user reused), KeyringMode from the unit, and the capabilities the supervisor cannot give.
/// Each kernel test first shows what happens without the key, so it cannot pass by accident.
/// </summary>
public class IdentityTests
{
    private const int CapSysResource = 24;
    private const int CapNetBindService = 10;

    private static UnitDefinition Unit(string service, string sandbox, string name = "svc")
    {
        using var dir = new TempDir("/run");
        File.WriteAllText(dir.Combine(name + ".toml"), $"[Service]\n{service}\n\n[Sandbox]\n{sandbox}\n");
        var set = UnitLoader.LoadDirectory(dir.Path);
        Assert.False(set.HasErrors, string.Join("\n", set.Diagnostics));
        return set.Units[name].Definition;
    }

    private static string Shell(string script) => $"ExecStart = [\"/bin/sh\", \"-c\", \"{script}\"]";

    private static ExecPlan Compile(UnitDefinition unit, DynamicUserAllocation? pair = null) =>
        ExecPlanCompiler.Compile(unit, CompileContext.ForHost() with { DynamicUser = pair });

    /// <summary>A uid of the dynamic range that no account uses, for a pair the runtime would allocate.</summary>
    private static DynamicUserAllocation FreePair(string name)
    {
        var users = UserDatabase.Load();
        for (uint uid = ExecPlanCompiler.DynamicUidMax; uid >= ExecPlanCompiler.DynamicUidMin; uid--)
            if (!users.UsesId(uid)) return new DynamicUserAllocation(name, uid, uid);
        throw new InvalidOperationException("no free uid in the dynamic range");
    }

    [Theory]
    [InlineData("UMask = \"0027\"", "640")]
    [InlineData("UMask = \"0077\"", "600")]
    [InlineData("", "644")]
    public void A_file_the_service_creates_has_the_mode_its_UMask_leaves(string umask, string mode)
    {
        Host.RequireRoot();
        using var dir = new TempDir("/run");
        var file = dir.Combine("created");
        var plan = Compile(Unit(Shell($"touch {file} && stat -c %%a {file}"), umask));
        Assert.Equal(mode, Runner.Run(plan).Line);
    }

    [Fact]
    public void DynamicUser_runs_the_service_as_its_pair_with_a_read_only_system_and_home_and_a_private_tmp()
    {
        Host.RequireRoot();
        var marker = Path.Combine("/tmp", "sbx-dyn-marker-" + Guid.NewGuid().ToString("N")[..8]);
        File.WriteAllText(marker, "host");
        try
        {
            const string script = "echo $(id -u):$(id -g):$USER:$HOME; test -e MARKER && echo tmp-shared || echo tmp-private; " +
                "grep -E ' / | /home ' /proc/self/mountinfo | cut -d' ' -f5,6";
            var text = Shell(script.Replace("MARKER", marker, StringComparison.Ordinal));

            // Without DynamicUser: root, the host's /tmp, a writable /.
            var plain = Runner.Run(Compile(Unit(text, ""))).Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("0:0:", plain[0][..4]);
            Assert.Equal("tmp-shared", plain[1]);
            Assert.DoesNotContain(plain, l => l.StartsWith("/ ro", StringComparison.Ordinal));

            var pair = FreePair("sbxdyn");
            var plan = Compile(Unit(text, "DynamicUser = true", "sbxdyn"), pair);
            Assert.True(plan.NoNewPrivileges);
            var lines = Runner.Run(plan).Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal($"{pair.Uid}:{pair.Gid}:sbxdyn:/", lines[0]);
            Assert.Equal("tmp-private", lines[1]);
            Assert.Contains(lines, l => l.StartsWith("/ ro", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.StartsWith("/home ro", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(marker);
        }
    }

    [Fact]
    public void DynamicUser_uses_an_existing_user_of_that_name_as_it_is()
    {
        var users = UserDatabase.Load();
        if (users.FindStaticUser("nobody") is not { } nobody) { Assert.Skip("no user 'nobody' in /etc/passwd"); return; }
        var unit = Unit("ExecStart = [\"/bin/true\"]\nUser = \"nobody\"", "DynamicUser = true");
        Assert.Null(ExecPlanCompiler.DynamicUserToAllocate(unit, users));
        var plan = Compile(unit);
        Assert.Equal((nobody.Uid, nobody.Gid), (plan.Identity!.Uid, plan.Identity.Gid));
    }

    [Fact]
    public void DynamicUser_without_an_allocated_pair_is_not_compiled()
    {
        var unit = Unit("ExecStart = [\"/bin/true\"]", "DynamicUser = true", "sbxnopair");
        Assert.Equal("sbxnopair", ExecPlanCompiler.DynamicUserToAllocate(unit, UserDatabase.Load()));
        var e = Assert.Throws<PlanCompileException>(() => Compile(unit));
        Assert.Equal("DynamicUser", e.Key);
        Assert.Equal("sbxnopair: DynamicUser: no uid is allocated for the dynamic user 'sbxnopair' (the supervisor allocates one from 61184–65519 when the unit starts)", e.Message);
    }

    [Theory]
    [InlineData("web", "web")]
    [InlineData("web.service", "web")]
    [InlineData("worker@3", "worker")]
    [InlineData("Web", "_du")]
    [InlineData("my.app", "_du")]
    public void The_dynamic_user_is_named_after_the_unit_when_User_is_not_set(string unit, string expected)
    {
        var name = ExecPlanCompiler.DynamicUserName(new UnitDefinition { Name = unit, Kind = UnitKind.Service, Sources = new([$"/x/{unit}.toml"]) });
        if (expected == "_du")
        {
            Assert.Matches("^_du[0-9a-f]{16}$", name);
            Assert.NotEqual(name, ExecPlanCompiler.DynamicUserName(new UnitDefinition { Name = unit + "x", Kind = UnitKind.Service, Sources = new(["/x"]) }));
        }
        else Assert.Equal(expected, name);
    }

    [Fact]
    public void KeyringMode_inherit_in_the_unit_gives_the_service_the_supervisors_keyring()
    {
        Host.RequireRoot();
        Keyrings.Require();
        var secret = "sbx-secret-" + Guid.NewGuid().ToString("N")[..8];
        string Look(string sandbox) =>
            Keyrings.InSessionWithKey(secret, () => Runner.Run(Compile(Unit($"ExecStart = [\"{Probe.Path}\", \"key\", \"user\", \"{secret}\"]", sandbox))).Line);
        Assert.Equal("fail 126", Look(""));
        Assert.Equal("fail 126", Look("KeyringMode = \"private\""));
        Assert.Equal("ok", Look("KeyringMode = \"inherit\""));
    }

    [Fact]
    public void A_capability_the_supervisor_lacks_is_shown_by_inspect_as_unavailable_not_as_a_match()
    {
        Host.RequireRoot();
        if ((Sandboxes.AllCaps & (1UL << CapSysResource)) != 0) { Assert.Skip("this host gives the tests CAP_SYS_RESOURCE; the case needs a supervisor without it"); return; }
        var plan = Compile(Unit(Shell("exec sleep 1000"), "CapabilityBoundingSet = [\"CAP_SYS_RESOURCE\", \"CAP_NET_BIND_SERVICE\"]"));
        Assert.Equal(1UL << CapSysResource, plan.UnavailableCapabilities);
        Assert.Equal(1UL << CapNetBindService, plan.Capabilities!.Bounding);
        using var run = new Started(plan);
        var lines = IsolationCheck.Compare(plan, IsolationState.Read(run.Pid));
        var lack = Assert.Single(lines, l => l.Result == CheckResult.Unavailable);
        Assert.Equal("capability CAP_SYS_RESOURCE", lack.Property);
        Assert.StartsWith("lack capability CAP_SYS_RESOURCE: declared in CapabilityBoundingSet, found unavailable", lack.ToString());
        Assert.DoesNotContain(lines, l => l.Result == CheckResult.Mismatch);
        // A "~" list drops what it names: nothing the supervisor lacks was asked for.
        Assert.Equal(0UL, Compile(Unit(Shell("true"), "CapabilityBoundingSet = [\"~CAP_SYS_RESOURCE\"]")).UnavailableCapabilities);
    }

    [Fact]
    public void A_process_that_gains_a_capability_beyond_its_declaration_is_drift()
    {
        Host.RequireRoot();
        using var dir = new TempDir("/run");
        var setuidSleep = dir.Combine("sleep");
        File.Copy("/bin/sleep", setuidSleep);
        File.SetUnixFileMode(setuidSleep, (UnixFileMode)0xDED); // 04755: setuid root
        var plan = Compile(Unit($"ExecStart = [\"/bin/sh\", \"-c\", \"exec {setuidSleep} 1000\"]\nUser = \"nobody\"", "CapabilityBoundingSet = [\"CAP_NET_BIND_SERVICE\"]"));

        // The same unit running the plain sleep keeps to its declaration.
        using (var plain = new Started(plan with { Argv = ["sh", "-c", "exec sleep 1000"] }))
            Assert.DoesNotContain(IsolationCheck.Compare(plan, IsolationState.Read(plain.Pid)), l => l.Result == CheckResult.Mismatch);

        using var run = new Started(plan);
        var status = File.ReadAllLines($"/proc/{run.Pid.ToString(CultureInfo.InvariantCulture)}/status").Single(l => l.StartsWith("Uid:", StringComparison.Ordinal));
        if (status.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2] != "0") { Assert.Skip($"'{dir.Path}' is on a nosuid file system: the setuid bit gives nothing here"); return; }
        var lines = IsolationCheck.Compare(plan, IsolationState.Read(run.Pid));
        var prm = Assert.Single(lines, l => l.Property == "CapPrm");
        Assert.Equal(CheckResult.Mismatch, prm.Result);
        Assert.Contains("CAP_NET_BIND_SERVICE", prm.Found);
    }

    /// <summary>A plan's process started through the real helper, killed by its pidfd at dispose.</summary>
    private sealed class Started : IDisposable
    {
        private readonly SandboxProcess _process;

        public Started(ExecPlan plan)
        {
            _process = SandboxLauncher.Start(plan, "test", Host.HelperPath);
            Pid = _process.FindServicePid() ?? throw new InvalidOperationException("the service exited at once");
            // Wait for the exec of the last program (sh execs sleep): the process's name says when.
            var deadline = DateTime.UtcNow + Runner.SafetyNet;
            while (File.ReadAllText($"/proc/{Pid.ToString(CultureInfo.InvariantCulture)}/comm").Trim() != "sleep" && DateTime.UtcNow < deadline)
                Thread.Sleep(20);
        }

        public int Pid { get; }

        public void Dispose()
        {
            _process.Signal(9);
            _process.WaitForExit(Runner.SafetyNet);
            _process.Dispose();
        }
    }
}
