using System.Collections.Immutable;
using System.Text;
using Supervisor.Sandbox.Inspect;
using Supervisor.Sandbox.Security;
using Supervisor.Units;
using Supervisor.Units.Model;
using Supervisor.Units.Syntax;

namespace Supervisor.Sandbox.Tests;

/// <summary>
/// The exposure score against known tables: each expected score is what systemd 252's
/// `systemd-analyze security --offline=yes` prints for the systemd unit with the same settings
/// (written beside each case), so a changed weight, range or rule shows here.
/// </summary>
public class ExposureScoreTests
{
    private static UnitDefinition Unit(string service = "", string sandbox = "", string resources = "")
    {
        var text = $"[Service]\nExecStart = [\"/bin/true\"]\n{service}\n[Sandbox]\n{sandbox}\n[Resources]\n{resources}\n";
        var diagnostics = new List<Diagnostic>();
        var doc = UnitFileReader.Parse(Encoding.UTF8.GetBytes(text), "web.toml", "web", diagnostics);
        var parsed = doc is null ? null : UnitParser.Parse("web", UnitKind.Service, [doc], diagnostics);
        Assert.True(parsed is not null, string.Join("\n", diagnostics));
        return parsed!.Definition;
    }

    private static ExposureLine Line(ExposureReport r, string name) => r.Lines.Single(l => l.Check.Name == name);

    [Fact]
    public void A_unit_with_nothing_set_scores_9_6_unsafe_as_systemd_scores_ExecStart_alone()
    {
        var r = ExposureScore.Assess(Unit());
        Assert.Equal("9.6", r.Score);
        Assert.Equal("UNSAFE", r.Rating);
        // systemd's EXPOSURE column for the same unit.
        Assert.Equal(5, Line(r, "PrivateNetwork=").Exposure);
        Assert.Equal(4, Line(r, "User=/DynamicUser=").Exposure);
        Assert.Equal(1, Line(r, "UMask=").Exposure);
        Assert.Equal(5, Line(r, "UMask=").Assessment.Badness);
        Assert.Null(Line(r, "SupplementaryGroups=").Passes);
        Assert.True(Line(r, "KeyringMode=").Passes);
        Assert.True(Line(r, "NotifyAccess=").Passes);
    }

    [Theory]
    [InlineData("User = \"nobody\"", "", "", "9.5")]                         // User=nobody
    [InlineData("", "DynamicUser = true", "", "8.4")]                       // DynamicUser=yes
    [InlineData("", "PrivateDevices = true", "", "9.0")]                    // PrivateDevices=yes
    [InlineData("", "SystemCallFilter = [\"@system-service\"]", "", "8.2")] // SystemCallFilter=@system-service
    [InlineData("User = \"web\"", "SystemCallFilter = [\"~@privileged @resources\"]", "", "8.1")]
    [InlineData("", "UMask = \"0027\"\nProtectHome = \"tmpfs\"\nProtectSystem = \"full\"\nProtectProc = \"noaccess\"\nRestrictAddressFamilies = [\"~AF_PACKET\"]\nSystemCallArchitectures = [\"x86\", \"x86-64\"]",
        "IPAddressDeny = [\"any\"]\nIPAddressAllow = [\"localhost\"]", "8.8")]
    [InlineData("", "CapabilityBoundingSet = []", "", "7.1")]              // CapabilityBoundingSet=
    public void Known_units_score_what_systemd_analyze_prints_for_them(string service, string sandbox, string resources, string expected) =>
        Assert.Equal(expected, ExposureScore.Assess(Unit(service, sandbox, resources)).Score);

    [Fact]
    public void Graded_checks_take_the_badness_systemd_gives_each_value()
    {
        var r = ExposureScore.Assess(Unit(sandbox: "UMask = \"0027\"\nProtectHome = \"tmpfs\"\nProtectSystem = \"full\"\nProtectProc = \"noaccess\"\nSystemCallArchitectures = [\"x86\", \"x86-64\"]",
            resources: "IPAddressDeny = [\"any\"]\nIPAddressAllow = [\"localhost\"]"));
        Assert.Equal(1, Line(r, "UMask=").Assessment.Badness);
        Assert.Equal(1, Line(r, "ProtectHome=").Assessment.Badness);
        Assert.Equal(3, Line(r, "ProtectSystem=").Assessment.Badness);
        Assert.Equal(1, Line(r, "ProtectProc=").Assessment.Badness);
        Assert.Equal(8, Line(r, "SystemCallArchitectures=").Assessment.Badness);
        Assert.Equal(2, Line(r, "IPAddressDeny=").Assessment.Badness);
    }

    [Fact]
    public void Protect_directives_take_their_capabilities_out_as_systemd_does()
    {
        var r = ExposureScore.Assess(Unit(sandbox: "ProtectClock = true\nProtectKernelModules = true\nProtectKernelLogs = true\nPrivateDevices = true"));
        foreach (var cap in new[] { "CAP_SYS_TIME", "CAP_WAKE_ALARM", "CAP_SYS_MODULE", "CAP_SYSLOG", "CAP_MKNOD", "CAP_SYS_RAWIO" })
            Assert.True(Line(r, "CapabilityBoundingSet=~" + cap).Passes, cap);
        Assert.False(Line(r, "CapabilityBoundingSet=~CAP_SYS_ADMIN").Passes);
        // PrivateDevices closes the device policy: a minimal ACL.
        Assert.Equal(0, Line(r, "DeviceAllow=").Assessment.Badness);
    }

    [Fact]
    public void An_allow_list_fails_a_group_it_admits_and_a_deny_list_one_it_leaves_open()
    {
        var allow = ExposureScore.Assess(Unit(sandbox: "SystemCallFilter = [\"@system-service\"]"));
        Assert.Equal(9, Line(allow, "SystemCallFilter=~@privileged").Assessment.Badness);
        Assert.Equal(0, Line(allow, "SystemCallFilter=~@reboot").Assessment.Badness);
        var deny = ExposureScore.Assess(Unit(sandbox: "SystemCallFilter = [\"~@reboot @swap\"]"));
        Assert.Equal(0, Line(deny, "SystemCallFilter=~@reboot").Assessment.Badness);
        Assert.Equal(10, Line(deny, "SystemCallFilter=~@mount").Assessment.Badness);
        Assert.Contains("is not included (e.g.", Line(deny, "SystemCallFilter=~@mount").Assessment.Description);
    }

    [Fact]
    public void An_allow_list_of_address_families_closes_every_class_it_does_not_name()
    {
        var r = ExposureScore.Assess(Unit(sandbox: "RestrictAddressFamilies = [\"AF_UNIX\", \"AF_INET6\"]"));
        Assert.False(Line(r, "RestrictAddressFamilies=~AF_(INET|INET6)").Passes);
        Assert.False(Line(r, "RestrictAddressFamilies=~AF_UNIX").Passes);
        Assert.True(Line(r, "RestrictAddressFamilies=~AF_NETLINK").Passes);
        Assert.True(Line(r, "RestrictAddressFamilies=~AF_PACKET").Passes);
        Assert.True(Line(r, "RestrictAddressFamilies=~…").Passes);
    }

    [Fact]
    public void The_score_rounds_up_per_check_and_overall_as_systemd()
    {
        // ⌈5·1000/10⌉ = 500 of 1500 → ⌈500·100/1500⌉ = 34 tenths; the second check adds its weight only.
        var checks = new[]
        {
            new ExposureCheck("a", 1000, 10, _ => new Assessment(5, "")),
            new ExposureCheck("b", 500, 1, _ => new Assessment(0, "")),
            new ExposureCheck("c", 700, 1, _ => Assessment.NotApplicable("")),
            new ExposureCheck("own", 0, 1, _ => new Assessment(1, ""), SupervisorOnly: true),
        };
        var r = ExposureScore.Assess("x", new SecurityFacts(), checks);
        Assert.Equal(34, r.ScoreTenths);
        Assert.Equal("3.4", r.Score);
        Assert.Equal(34, r.Lines[0].Exposure);
        Assert.Null(r.Lines[3].Exposure);
    }

    [Fact]
    public void Supervisor_only_lines_are_shown_but_do_not_move_the_score()
    {
        var plain = ExposureScore.Assess(Unit());
        var landlock = ExposureScore.Assess(Unit(sandbox: "LandlockReadOnlyPaths = [\"/usr\"]\nLandlockBindPorts = [8080]\nLandlockConnectPorts = []\nLandlockScope = [\"signal\", \"abstract-unix-socket\"]"));
        Assert.Equal(plain.ScoreTenths, landlock.ScoreTenths);
        Assert.False(Line(plain, "LandlockReadOnlyPaths/ReadWritePaths/ExecutePaths").Passes);
        Assert.True(Line(landlock, "LandlockReadOnlyPaths/ReadWritePaths/ExecutePaths").Passes);
        Assert.True(Line(landlock, "LandlockBindPorts/ConnectPorts").Passes);
        Assert.True(Line(landlock, "LandlockScope").Passes);
        Assert.Null(Line(landlock, "live isolation (inspect)").Passes);
    }

    [Fact]
    public void The_strict_set_line_fails_for_system_service_naming_what_it_lets_through_and_passes_for_the_strict_set()
    {
        const string Name = "SystemCallFilter=@system-service-strict";
        var service = Line(ExposureScore.Assess(Unit(sandbox: "SystemCallFilter = [\"@system-service\"]")), Name);
        Assert.False(service.Passes);
        Assert.Contains("keyctl", service.Assessment.Description);
        Assert.Contains("io_uring_setup", service.Assessment.Description);
        Assert.Contains("userfaultfd", service.Assessment.Description);
        Assert.False(Line(ExposureScore.Assess(Unit()), Name).Passes);
        Assert.True(Line(ExposureScore.Assess(Unit(sandbox: "SystemCallFilter = [\"@system-service-strict\"]")), Name).Passes);
        // One call added back is named, the rest stay closed.
        var one = Line(ExposureScore.Assess(Unit(sandbox: "SystemCallFilter = [\"@system-service-strict\", \"io_uring_enter\"]")), Name);
        Assert.False(one.Passes);
        Assert.Contains("io_uring_enter", one.Assessment.Description);
        Assert.DoesNotContain("keyctl", one.Assessment.Description);
        // A deny list closing them all passes too.
        Assert.True(Line(ExposureScore.Assess(Unit(sandbox: "SystemCallFilter = [\"~@keyring io_uring_setup io_uring_enter io_uring_register userfaultfd kcmp process_vm_readv process_vm_writev process_madvise unshare setns\"]")), Name).Passes);
    }

    private static IsolationState State(uint uid, ulong capBnd, bool nnp, int seccomp, params string[] ownNamespaces) =>
        InspectCredentialTests.State(uid, uid, 0, 0, capBnd, nnp, seccomp) with
        {
            Namespaces = IsolationState.NamespaceKinds.ToImmutableDictionary(k => k, k => ownNamespaces.Contains(k) ? 2UL : 1UL),
            HostNamespaces = IsolationState.NamespaceKinds.ToImmutableDictionary(k => k, _ => 1UL),
        };

    [Fact]
    public void A_running_unit_is_scored_by_what_its_process_has_not_by_what_it_declares()
    {
        var unit = Unit("User = \"web\"", "NoNewPrivileges = true\nPrivateNetwork = true\nCapabilityBoundingSet = []\nSystemCallFilter = [\"@system-service\"]\nSystemCallArchitectures = [\"native\"]");
        var declared = SecurityFacts.FromDeclaration(unit);
        var asDeclared = ExposureScore.Assess("web", declared.WithLive(State(1000, 0, true, 2, "net"), [new InspectLine("uid", "1000", "1000", CheckResult.Match)]));
        Assert.Equal(ExposureScore.Assess("web", declared).ScoreTenths, asDeclared.ScoreTenths);
        Assert.True(Line(asDeclared, "live isolation (inspect)").Passes);

        // The process runs as root with every capability, in the host's network, without no_new_privs or seccomp.
        var drifted = ExposureScore.Assess("web", declared.WithLive(State(0, ulong.MaxValue, false, 0),
            [new InspectLine("uid", "1000", "0", CheckResult.Mismatch), new InspectLine("namespace net", "own", "host", CheckResult.Mismatch)]));
        Assert.True(drifted.ScoreTenths > asDeclared.ScoreTenths + 40, $"{drifted.Score} vs {asDeclared.Score}");
        foreach (var name in new[] { "User=/DynamicUser=", "PrivateNetwork=", "NoNewPrivileges=", "CapabilityBoundingSet=~CAP_SYS_ADMIN", "SystemCallFilter=~@reboot", "SystemCallArchitectures=" })
            Assert.False(Line(drifted, name).Passes, name);
        var live = Line(drifted, "live isolation (inspect)");
        Assert.False(live.Passes);
        Assert.Contains("uid, namespace net", live.Assessment.Description);
    }
}
