using Supervisor.Units.Model;

namespace Supervisor.Units.Tests;

/// <summary>The kernel-surface keys: systemd's spellings accepted, every mistake one located error.</summary>
public class KernelSurfaceKeyTests
{
    private static SandboxSection Sandbox(string lines) => Parse.Valid(Parse.MinimalService + "[Sandbox]\n" + lines + "\n").Sandbox;

    private static string Error(string lines) => Parse.SingleError(Parse.MinimalService + "[Sandbox]\n" + lines + "\n").ToString();

    [Theory]
    [InlineData("true", true)]
    [InlineData("false", false)]
    [InlineData("\"yes\"", true)]
    [InlineData("\"no\"", false)]
    [InlineData("\"on\"", true)]
    [InlineData("\"0\"", false)]
    [InlineData("\"True\"", true)]
    public void Booleans_take_systemd_spellings(string value, bool expected)
    {
        foreach (var key in new[] { "LockPersonality", "MemoryDenyWriteExecute", "RestrictRealtime", "RestrictSUIDSGID", "ProtectKernelModules", "ProtectKernelLogs", "ProtectClock", "ProtectHostname" })
        {
            var x = Sandbox($"{key} = {value}");
            bool got = key switch
            {
                "LockPersonality" => x.LockPersonality,
                "MemoryDenyWriteExecute" => x.MemoryDenyWriteExecute,
                "RestrictRealtime" => x.RestrictRealtime,
                "RestrictSUIDSGID" => x.RestrictSUIDSGID,
                "ProtectKernelModules" => x.ProtectKernelModules,
                "ProtectKernelLogs" => x.ProtectKernelLogs,
                "ProtectClock" => x.ProtectClock,
                _ => x.ProtectHostname,
            };
            Assert.True(got == expected, $"{key} = {value}");
        }
    }

    [Fact]
    public void A_boolean_that_is_neither_is_refused_where_it_is_written() =>
        Assert.Equal("svc.toml:4:19: svc: [Sandbox] LockPersonality: expected true or false (or systemd's \"yes\"/\"no\"), got \"maybe\"",
            Error("LockPersonality = \"maybe\""));

    [Fact]
    public void RestrictNamespaces_takes_a_boolean_or_systemds_list()
    {
        Assert.Equal(Namespaces.None, Sandbox("RestrictNamespaces = true").RestrictNamespaces!.Allowed);
        Assert.Equal(Namespaces.None, Sandbox("RestrictNamespaces = \"yes\"").RestrictNamespaces!.Allowed);
        Assert.Null(Sandbox("RestrictNamespaces = \"no\"").RestrictNamespaces);
        Assert.Null(Sandbox("RestrictNamespaces = []").RestrictNamespaces);
        Assert.Equal(Namespaces.Net | Namespaces.Ipc, Sandbox("RestrictNamespaces = [\"net\", \"ipc\"]").RestrictNamespaces!.Allowed);
        // systemd's "mnt"; "mount" as in Namespaces; one string with spaces as in a .service file.
        Assert.Equal(Namespaces.Mount, Sandbox("RestrictNamespaces = [\"mnt\"]").RestrictNamespaces!.Allowed);
        Assert.Equal(Namespaces.Mount, Sandbox("RestrictNamespaces = [\"mount\"]").RestrictNamespaces!.Allowed);
        Assert.Equal(NamespaceRestriction.Restrictable & ~(Namespaces.User | Namespaces.Mount),
            Sandbox("RestrictNamespaces = \"~user mnt\"").RestrictNamespaces!.Allowed);
    }

    [Fact]
    public void RestrictNamespaces_mistakes()
    {
        Assert.Equal("svc.toml:4:22: svc: [Sandbox] RestrictNamespaces: unknown namespace type \"usr\"; expected one of \"cgroup\", \"ipc\", \"net\", \"mnt\", \"pid\", \"user\", \"uts\"; did you mean 'user'?",
            Error("RestrictNamespaces = [\"net\", \"usr\"]"));
        Assert.Equal("svc.toml:4:22: svc: [Sandbox] RestrictNamespaces: \"~\" is only allowed on the first entry, got \"~user\"",
            Error("RestrictNamespaces = [\"net\", \"~user\"]"));
        Assert.Contains("\"~\" needs the namespace types to deny after it", Error("RestrictNamespaces = [\"~\"]"));
        // "time" is a namespace Supervisor creates, but not a type systemd's RestrictNamespaces knows.
        Assert.Contains("unknown namespace type \"time\"", Error("RestrictNamespaces = [\"time\"]"));
        Assert.Contains("expected true, false, or an array of namespace types", Error("RestrictNamespaces = 3"));
    }

    [Fact]
    public void RestrictAddressFamilies_takes_names_a_deny_list_or_none()
    {
        var allow = Sandbox("RestrictAddressFamilies = [\"AF_UNIX\", \"AF_INET AF_INET6\"]").RestrictAddressFamilies!;
        Assert.False(allow.Invert);
        Assert.Equal([1, 2, 10], allow.Families.ToArray());
        var deny = Sandbox("RestrictAddressFamilies = [\"~AF_PACKET\"]").RestrictAddressFamilies!;
        Assert.True(deny.Invert && !deny.Allows(17) && deny.Allows(2));
        Assert.True(Sandbox("RestrictAddressFamilies = \"none\"").RestrictAddressFamilies!.IsNone);
        Assert.True(Sandbox("RestrictAddressFamilies = [\"none\"]").RestrictAddressFamilies!.IsNone);
        Assert.Null(Sandbox("RestrictAddressFamilies = []").RestrictAddressFamilies);
        Assert.Equal([1], Sandbox("RestrictAddressFamilies = [\"AF_LOCAL\"]").RestrictAddressFamilies!.Families.ToArray());
    }

    [Fact]
    public void RestrictAddressFamilies_mistakes()
    {
        Assert.Equal("svc.toml:4:27: svc: [Sandbox] RestrictAddressFamilies: unknown address family \"AF_UINX\"; expected a name like \"AF_INET\" or \"AF_UNIX\"; did you mean 'AF_UNIX'?",
            Error("RestrictAddressFamilies = [\"AF_UINX\"]"));
        Assert.Contains("unknown address family \"17\"", Error("RestrictAddressFamilies = [\"17\"]"));
        Assert.Contains("\"none\" denies every address family and stands alone", Error("RestrictAddressFamilies = [\"none\", \"AF_UNIX\"]"));
        Assert.Contains("expected \"none\" or an array of address families", Error("RestrictAddressFamilies = true"));
    }

    [Fact]
    public void ProcSubset_is_all_or_pid() =>
        Assert.Equal("svc.toml:4:14: svc: [Sandbox] ProcSubset: expected one of \"all\", \"pid\", got \"pids\"; did you mean 'pid'?",
            Error("ProcSubset = \"pids\""));

    [Fact]
    public void An_ambient_capability_a_directive_drops_is_an_error_on_AmbientCapabilities()
    {
        var d = Parse.SingleError(Parse.MinimalService + "User = \"nobody\"\n[Sandbox]\nProtectClock = true\nAmbientCapabilities = [\"CAP_SYS_TIME\"]\n");
        Assert.Equal("svc.toml:6:23: svc: [Sandbox] AmbientCapabilities: CAP_SYS_TIME is removed from the bounding set by ProtectClock, so it cannot be kept; remove CAP_SYS_TIME, or set ProtectClock = false",
            d.ToString());
        Assert.Equal(("Sandbox", "AmbientCapabilities"), (d.Section, d.Key));
    }

    [Fact]
    public void A_bounding_set_that_lists_a_dropped_capability_gets_a_warning()
    {
        var (unit, diagnostics) = Parse.Service(Parse.MinimalService + "[Sandbox]\nProtectKernelModules = true\nCapabilityBoundingSet = [\"CAP_SYS_MODULE\", \"CAP_CHOWN\"]\n");
        Assert.NotNull(unit);
        var warning = Assert.Single(diagnostics);
        Assert.Equal(Severity.Warning, warning.Severity);
        Assert.Contains("CapabilityBoundingSet: CAP_SYS_MODULE is removed by ProtectKernelModules", warning.Message);
    }

    [Fact]
    public void ProtectHostname_gives_Hostname_its_uts_namespace() =>
        Assert.Equal("site", Sandbox("ProtectHostname = true\nHostname = \"site\"").Hostname);

    [Fact]
    public void Show_writes_systemd_names_that_parse_back()
    {
        var unit = Parse.Valid(Parse.MinimalService + "[Sandbox]\nRestrictNamespaces = [\"~user\", \"mount\"]\nRestrictAddressFamilies = \"none\"\nLockPersonality = \"yes\"\n");
        var shown = UnitFormatter.ToToml(unit);
        Assert.Contains("RestrictNamespaces = [\"~mnt\", \"user\"]", shown);
        Assert.Contains("RestrictAddressFamilies = \"none\"", shown);
        Assert.Contains("LockPersonality = true", shown);
        Assert.Equal(unit.Sandbox, Parse.Valid(shown).Sandbox);
    }
}
