using Supervisor.Units.Keys;
using Supervisor.Units.Model;

namespace Supervisor.Units.Tests;

/// <summary>
/// Every key of the table, set to a non-default value, survives parse → show (TOML) → parse.
/// A key added to the table without a sample here fails <see cref="Every_key_has_a_sample"/>.
/// </summary>
public class KeyRoundTripTests
{
    public static readonly Dictionary<string, string> Samples = new()
    {
        ["Unit.Description"] = "\"Static site\"",
        ["Unit.Documentation"] = "[\"man:python3(1)\", \"https://example.org/docs\"]",
        ["Unit.Requires"] = "[\"db\"]",
        ["Unit.Wants"] = "[\"cache\", \"metrics\"]",
        ["Unit.After"] = "[\"db\"]",
        ["Unit.Before"] = "[\"proxy\"]",
        ["Unit.BindsTo"] = "[\"db\"]",
        ["Unit.PartOf"] = "[\"group\"]",
        ["Unit.Conflicts"] = "[\"maintenance\"]",
        ["Unit.Requisite"] = "[\"db\"]",
        ["Unit.StopWhenUnneeded"] = "true",
        ["Service.Type"] = "\"notify\"",
        ["Service.ExecStart"] = "[\"-/usr/bin/python3\", \"-m\", \"http.server\", \"8080\"]",
        ["Service.ExecStartPre"] = "[[\"/usr/bin/mkdir\", \"-p\", \"/var/lib/site\"], [\"-/bin/false\"]]",
        ["Service.ExecStartPost"] = "[[\"/bin/echo\", \"started\"]]",
        ["Service.ExecReload"] = "[[\"/bin/kill\", \"-HUP\", \"$MAINPID\"]]",
        ["Service.ExecStop"] = "[[\"/bin/echo\", \"stop\"]]",
        ["Service.ExecStopPost"] = "[[\"/bin/echo\", \"stopped\"]]",
        ["Service.RemainAfterExit"] = "true",
        ["Service.PIDFile"] = "\"/run/site.pid\"",
        ["Service.Restart"] = "\"on-abnormal\"",
        ["Service.RestartSec"] = "\"250ms\"",
        ["Service.RestartSteps"] = "5\nRestartMaxDelaySec = \"30s\"", // needs the delay it grows to
        ["Service.RestartMaxDelaySec"] = "\"30s\"",
        ["Service.RestartResetSec"] = "\"5min\"",
        ["Service.RestartJitter"] = "\"12.5%\"",
        ["Service.StartLimitIntervalSec"] = "\"1min 30s\"",
        ["Service.StartLimitBurst"] = "9",
        ["Service.SuccessExitStatus"] = "[75, \"SIGUSR1\"]",
        ["Service.RestartPreventExitStatus"] = "[2, 64]",
        ["Service.RestartForceExitStatus"] = "[\"SIGHUP\"]",
        ["Service.TimeoutStartSec"] = "\"infinity\"",
        ["Service.TimeoutStopSec"] = "15",
        ["Service.WatchdogSec"] = "\"5s\"",
        ["Service.KillMode"] = "\"mixed\"",
        ["Service.KillSignal"] = "\"SIGINT\"",
        ["Service.SendSIGKILL"] = "false",
        ["Service.TimeoutSec"] = "\"7s\"",
        ["Service.TimeoutAbortSec"] = "\"4s\"",
        ["Service.WatchdogSignal"] = "\"SIGUSR2\"",
        ["Service.RestartKillSignal"] = "\"SIGINT\"",
        ["Service.FinalKillSignal"] = "\"SIGQUIT\"",
        ["Service.SendSIGHUP"] = "true",
        ["Service.NotifyAccess"] = "\"all\"",
        ["Service.User"] = "\"www-data\"",
        ["Service.Group"] = "\"www-data\"",
        ["Service.SupplementaryGroups"] = "[\"adm\", \"ssl-cert\"]",
        ["Service.WorkingDirectory"] = "\"-/srv/site\"",
        ["Service.Environment"] = "{ LANG = \"C.UTF-8\", PORT = \"8080\", \"QUOTED\" = \"a \\\"b\\\"\" }",
        ["Service.EnvironmentFile"] = "[\"/etc/default/site\", \"-/etc/site.env\"]",
        ["Service.UnsetEnvironment"] = "[\"LANG\", \"TERM=dumb\"]",
        ["Service.PassEnvironment"] = "[\"TZ\", \"http_proxy\"]",
        ["Service.Slice"] = "\"web\"",
        ["Resources.MemoryMax"] = "\"256M\"",
        ["Resources.MemoryHigh"] = "\"200M\"",
        ["Resources.MemoryLow"] = "\"64M\"",
        ["Resources.MemoryMin"] = "\"32M\"",
        ["Resources.MemorySwapMax"] = "\"infinity\"",
        ["Resources.CPUQuota"] = "\"150%\"",
        ["Resources.CPUQuotaPeriodSec"] = "\"50ms\"",
        ["Resources.CPUWeight"] = "500",
        ["Resources.AllowedCPUs"] = "\"0-1,3\"",
        ["Resources.AllowedMemoryNodes"] = "\"0\"",
        ["Resources.TasksMax"] = "64",
        ["Resources.IOWeight"] = "200",
        ["Resources.IOReadBandwidthMax"] = "{ \"/dev/sda\" = \"10M\" }",
        ["Resources.IOWriteBandwidthMax"] = "{ \"/dev/sda\" = \"5M\", \"/dev/sdb\" = \"1G\" }",
        ["Resources.IOReadIOPSMax"] = "{ \"/dev/sda\" = 1000 }",
        ["Resources.IOWriteIOPSMax"] = "{ \"/dev/sda\" = 500 }",
        ["Resources.DevicePolicy"] = "\"strict\"",
        ["Resources.DeviceAllow"] = "[\"/dev/null rw\", \"char-pts\"]",
        ["Resources.IPAddressAllow"] = "[\"localhost\", \"10.0.0.0/8\"]",
        ["Resources.IPAddressDeny"] = "\"any\"",
        ["Resources.SocketBindAllow"] = "[\"tcp:8080\", \"ipv6:udp:5000-5010\"]",
        ["Resources.SocketBindDeny"] = "[\"any\"]",
        ["Sandbox.Namespaces"] = "[\"pid\", \"mount\", \"ipc\", \"uts\", \"cgroup\", \"user\", \"time\"]",
        ["Sandbox.NetworkNamespacePath"] = "\"/run/netns/pod1\"",
        ["Sandbox.Hostname"] = "\"site\"\nNamespaces = [\"uts\"]", // needs its own uts namespace
        ["Sandbox.CapabilityBoundingSet"] = "[\"~CAP_SYS_ADMIN\", \"net_raw\"]",
        ["Sandbox.AmbientCapabilities"] = "[\"CAP_NET_BIND_SERVICE\"]",
        ["Sandbox.NoNewPrivileges"] = "true",
        ["Sandbox.SecureBits"] = "[\"keep-caps\", \"noroot-locked\"]",
        ["Sandbox.SystemCallFilter"] = "[\"@system-service\", \"~@privileged @resources\", \"~mount\"]",
        ["Sandbox.SystemCallErrorNumber"] = "\"EPERM\"",
        ["Sandbox.SystemCallFilterMode"] = "\"learn\"",
        ["Sandbox.SystemCallArchitectures"] = "[\"native\"]",
        ["Sandbox.SystemCallLog"] = "[\"@mount\", \"ptrace\"]",
        ["Sandbox.SeccompProfile"] = "\"/etc/supervisor/seccomp/default.json\"",
        ["Sandbox.AppArmorProfile"] = "\"-supervisor-site\"",
        ["Sandbox.SELinuxContext"] = "\"system_u:system_r:httpd_t:s0\"",
        ["Sandbox.ProtectSystem"] = "\"strict\"",
        ["Sandbox.ProtectHome"] = "\"read-only\"",
        ["Sandbox.PrivateTmp"] = "true",
        ["Sandbox.PrivateDevices"] = "true",
        ["Sandbox.ReadWritePaths"] = "[\"/var/lib/site\", \"-/var/cache/site\"]",
        ["Sandbox.ReadOnlyPaths"] = "[\"/etc/site\"]",
        ["Sandbox.InaccessiblePaths"] = "[\"/root\", \"-/srv/secret\"]",
        ["Sandbox.BindPaths"] = "[\"/srv/data:/data\", \"-/opt/x\", \"/a:/b:norbind\"]",
        ["Sandbox.BindReadOnlyPaths"] = "[\"/etc/ssl:/etc/ssl\"]",
        ["Sandbox.RootDirectory"] = "\"/srv/root\"",
        ["Sandbox.ProtectKernelTunables"] = "true",
        ["Sandbox.ProtectControlGroups"] = "true",
        ["Sandbox.ProtectProc"] = "\"invisible\"",
        ["Sandbox.RestrictNamespaces"] = "[\"~user\", \"mount net\"]",
        ["Sandbox.LockPersonality"] = "\"yes\"",
        ["Sandbox.MemoryDenyWriteExecute"] = "true",
        ["Sandbox.RestrictRealtime"] = "true",
        ["Sandbox.RestrictSUIDSGID"] = "\"on\"",
        ["Sandbox.RestrictAddressFamilies"] = "[\"AF_UNIX\", \"AF_INET AF_INET6\"]",
        ["Sandbox.ProtectKernelModules"] = "true",
        ["Sandbox.ProtectKernelLogs"] = "true",
        ["Sandbox.ProtectClock"] = "true",
        ["Sandbox.ProtectHostname"] = "true",
        ["Sandbox.ProcSubset"] = "\"pid\"",
        ["Sandbox.LandlockReadOnlyPaths"] = "[\"/usr\", \"-/etc/site.conf\"]",
        ["Sandbox.LandlockReadWritePaths"] = "[\"/var/lib/site\"]",
        ["Sandbox.LandlockExecutePaths"] = "[\"/usr/bin\", \"/lib64\"]",
        ["Sandbox.LandlockBindPorts"] = "[8080, 8443]",
        ["Sandbox.LandlockConnectPorts"] = "[]",
        ["Sandbox.LandlockScope"] = "[\"abstract-unix-socket\", \"signal\"]",
        ["Sandbox.LandlockCompatibility"] = "\"best-effort\"",
        ["Sandbox.DynamicUser"] = "true",
        ["Sandbox.UMask"] = "\"0027\"",
        ["Service.RuntimeDirectory"] = "[\"redis\", \"foo/bar\"]",
        ["Service.StateDirectory"] = "[\"app\"]",
        ["Service.CacheDirectory"] = "[\"app\"]",
        ["Service.LogsDirectory"] = "[\"app/sub\"]",
        ["Service.ConfigurationDirectory"] = "[\"app\"]",
        ["Service.RuntimeDirectoryMode"] = "\"2755\"",
        ["Service.StateDirectoryMode"] = "\"0700\"",
        ["Service.CacheDirectoryMode"] = "\"0750\"",
        ["Service.LogsDirectoryMode"] = "\"0750\"",
        ["Service.ConfigurationDirectoryMode"] = "\"0750\"",
        ["Service.RuntimeDirectoryPreserve"] = "\"restart\"",
        ["Service.LoadCredential"] = "[\"tls:/etc/ssl/key.pem\"]",
        ["Service.SetCredential"] = "[\"motd:hello\\\\nworld\"]",
        ["Sandbox.KeyringMode"] = "\"shared\"",
        ["Sandbox.RemoveIPC"] = "true",
        ["Sandbox.PrivateNetwork"] = "\"yes\"", // systemd's spelling
        ["Sandbox.PrivateIPC"] = "true",
        ["Sandbox.PrivateMounts"] = "\"on\"",
        ["Sandbox.PrivatePIDs"] = "true",
        ["Sandbox.PrivateUsers"] = "true",
        ["Sandbox.NoExecPaths"] = "[\"/\", \"-/srv/x\"]",
        ["Sandbox.ExecPaths"] = "[\"/usr/bin\", \"-/usr/lib\"]",
        ["Sandbox.TemporaryFileSystem"] = "[\"/var:ro,mode=0700\", \"/srv:size=10M\"]",
        ["Service.LimitCPU"] = "\"60:120\"",
        ["Service.LimitFSIZE"] = "\"1G\"",
        ["Service.LimitDATA"] = "\"infinity\"",
        ["Service.LimitSTACK"] = "\"8M:infinity\"",
        ["Service.LimitCORE"] = "0",
        ["Service.LimitRSS"] = "\"512M\"",
        ["Service.LimitNOFILE"] = "\"1024:65536\"",
        ["Service.LimitAS"] = "\"4G\"",
        ["Service.LimitNPROC"] = "512",
        ["Service.LimitMEMLOCK"] = "\"64K\"",
        ["Service.LimitLOCKS"] = "100",
        ["Service.LimitSIGPENDING"] = "1000",
        ["Service.LimitMSGQUEUE"] = "\"800K\"",
        ["Service.LimitNICE"] = "20",
        ["Service.LimitRTPRIO"] = "0",
        ["Service.LimitRTTIME"] = "\"infinity\"",
        ["Unit.ConditionPathExists"] = "[\"!/etc/x\", \"|/a\"]",
        ["Unit.AssertPathExists"] = "[\"!/etc/x\", \"|/a\"]",
        ["Unit.ConditionPathExistsGlob"] = "[\"/etc/*.conf\"]",
        ["Unit.AssertPathExistsGlob"] = "[\"/etc/*.conf\"]",
        ["Unit.ConditionPathIsDirectory"] = "[\"/var/lib\"]",
        ["Unit.AssertPathIsDirectory"] = "[\"/var/lib\"]",
        ["Unit.ConditionPathIsSymbolicLink"] = "[\"!/etc/mtab\"]",
        ["Unit.AssertPathIsSymbolicLink"] = "[\"!/etc/mtab\"]",
        ["Unit.ConditionPathIsMountPoint"] = "[\"/proc\"]",
        ["Unit.AssertPathIsMountPoint"] = "[\"/proc\"]",
        ["Unit.ConditionPathIsReadWrite"] = "[\"/var\"]",
        ["Unit.AssertPathIsReadWrite"] = "[\"/var\"]",
        ["Unit.ConditionDirectoryNotEmpty"] = "[\"/etc\"]",
        ["Unit.AssertDirectoryNotEmpty"] = "[\"/etc\"]",
        ["Unit.ConditionFileNotEmpty"] = "[\"/etc/hostname\"]",
        ["Unit.AssertFileNotEmpty"] = "[\"/etc/hostname\"]",
        ["Unit.ConditionFileIsExecutable"] = "[\"/bin/sh\"]",
        ["Unit.AssertFileIsExecutable"] = "[\"/bin/sh\"]",
        ["Unit.ConditionUser"] = "[\"root\"]",
        ["Unit.AssertUser"] = "[\"root\"]",
        ["Unit.ConditionGroup"] = "[\"0\"]",
        ["Unit.AssertGroup"] = "[\"0\"]",
        ["Unit.ConditionCapability"] = "[\"CAP_NET_ADMIN\"]",
        ["Unit.AssertCapability"] = "[\"CAP_NET_ADMIN\"]",
        ["Unit.ConditionVirtualization"] = "[\"!container\"]",
        ["Unit.AssertVirtualization"] = "[\"!container\"]",
        ["Unit.ConditionKernelCommandLine"] = "[\"quiet\"]",
        ["Unit.AssertKernelCommandLine"] = "[\"quiet\"]",
        ["Unit.ConditionKernelVersion"] = "[\">=5.0 <99\"]",
        ["Unit.AssertKernelVersion"] = "[\">=5.0 <99\"]",
        ["Unit.ConditionEnvironment"] = "[\"LANG=C\"]",
        ["Unit.AssertEnvironment"] = "[\"LANG=C\"]",
        ["Unit.ConditionSecurity"] = "[\"!selinux\"]",
        ["Unit.AssertSecurity"] = "[\"!selinux\"]",
        ["Unit.ConditionACPower"] = "[\"true\"]",
        ["Unit.AssertACPower"] = "[\"true\"]",
        ["Unit.ConditionHost"] = "[\"web*\"]",
        ["Unit.AssertHost"] = "[\"web*\"]",
        ["Unit.ConditionArchitecture"] = "[\"x86-64\"]",
        ["Unit.AssertArchitecture"] = "[\"x86-64\"]",
        ["Unit.ConditionFirmware"] = "[\"uefi\"]",
        ["Unit.AssertFirmware"] = "[\"uefi\"]",
        ["Unit.ConditionFirstBoot"] = "[\"!yes\"]",
        ["Unit.AssertFirstBoot"] = "[\"no\"]",
        ["Unit.ConditionNeedsUpdate"] = "[\"/etc\"]",
        ["Unit.AssertNeedsUpdate"] = "[\"!/var\"]",
        ["Unit.ConditionCredential"] = "[\"db-password\"]",
        ["Unit.AssertCredential"] = "[\"|tls.key\"]",
        ["Unit.RequiresMountsFor"] = "[\"/srv/data\", \"/var/lib/db\"]",
        ["Unit.RefuseManualStart"] = "true",
        ["Unit.RefuseManualStop"] = "true",
        ["Unit.PropagatesReloadTo"] = "[\"worker\"]",
        ["Unit.ReloadPropagatedFrom"] = "[\"db\"]",
        ["Unit.ConditionOSRelease"] = "[\"ID=debian VERSION_ID>=12\"]",
        ["Unit.AssertOSRelease"] = "[\"ID=debian VERSION_ID>=12\"]",
        ["Unit.ConditionMemory"] = "[\">=1G\"]",
        ["Unit.AssertMemory"] = "[\">=1G\"]",
        ["Unit.ConditionCPUs"] = "[\">=2\"]",
        ["Unit.AssertCPUs"] = "[\">=2\"]",
        ["Unit.ConditionCPUFeature"] = "[\"sse4_2\"]",
        ["Unit.AssertCPUFeature"] = "[\"sse4_2\"]",
        ["Unit.ConditionControlGroupController"] = "[\"v2 memory\"]",
        ["Unit.AssertControlGroupController"] = "[\"v2 memory\"]",
        ["Unit.ConditionMemoryPressure"] = "[\"20%/1min\"]",
        ["Unit.AssertMemoryPressure"] = "[\"20%/1min\"]",
        ["Unit.ConditionCPUPressure"] = "[\"50%\"]",
        ["Unit.AssertCPUPressure"] = "[\"50%\"]",
        ["Unit.ConditionIOPressure"] = "[\"!80%/10sec\"]",
        ["Unit.AssertIOPressure"] = "[\"!80%/10sec\"]",
        ["Unit.ConditionPathIsEncrypted"] = "[\"/var/lib/db\"]",
        ["Unit.AssertPathIsEncrypted"] = "[\"/var/lib/db\"]",
        ["Unit.OnFailure"] = "[\"rescue\"]",
        ["Unit.OnSuccess"] = "[\"next.service\"]",
        ["Service.ExecCondition"] = "[[\"/usr/bin/test\", \"-e\", \"/etc/site.conf\"]]",
        ["Service.BusName"] = "\"org.example.Site\"",
        ["Service.Nice"] = "-5",
        ["Service.CPUSchedulingPolicy"] = "\"batch\"",
        ["Service.CPUSchedulingPriority"] = "0",
        ["Service.CPUSchedulingResetOnFork"] = "\"yes\"",
        ["Service.IOSchedulingClass"] = "\"idle\"",
        ["Service.IOSchedulingPriority"] = "7",
        ["Service.OOMScoreAdjust"] = "-900",
        ["Service.IgnoreSIGPIPE"] = "false",
        ["Service.StandardInput"] = "\"tty-force\"",
        ["Service.StandardInputText"] = "\"hello\\n\"",
        ["Service.StandardInputData"] = "\"aGVsbG8K\"",
        ["Service.StandardOutput"] = "\"append:/var/log/site.log\"",
        ["Service.StandardError"] = "\"journal+console\"",
        ["Service.SyslogIdentifier"] = "\"site\"",
        ["Service.SyslogFacility"] = "\"local3\"",
        ["Service.SyslogLevel"] = "\"warning\"",
        ["Service.SyslogLevelPrefix"] = "false",
        ["Service.TTYPath"] = "\"/dev/tty9\"",
        ["Service.TTYReset"] = "true",
        ["Service.TTYVHangup"] = "true",
        ["Service.TTYVTDisallocate"] = "true",
        ["Service.Sockets"] = "[\"web.socket\"]",
        ["Service.FileDescriptorStoreMax"] = "16",
        ["Socket.ListenStream"] = "[\"8080\", \"[::1]:81\", \"/run/web.sock\", \"@web\"]",
        ["Socket.ListenDatagram"] = "[\"127.0.0.1:514\"]",
        ["Socket.ListenSequentialPacket"] = "[\"/run/seq.sock\"]",
        ["Socket.FileDescriptorName"] = "\"http\"",
        ["Socket.SocketUser"] = "\"www-data\"",
        ["Socket.SocketGroup"] = "\"www-data\"",
        ["Socket.SocketMode"] = "\"0660\"",
        ["Socket.DirectoryMode"] = "\"0750\"",
        ["Socket.Backlog"] = "128",
        ["Socket.ReusePort"] = "true",
        ["Socket.BindIPv6Only"] = "\"ipv6-only\"",
        ["Socket.FreeBind"] = "true",
        ["Socket.PassCredentials"] = "true",
        ["Socket.PassSecurity"] = "true",
        ["Socket.RemoveOnStop"] = "true",
        ["Socket.Accept"] = "true",
        ["Socket.MaxConnections"] = "8",
        ["Socket.MaxConnectionsPerSource"] = "2",
        ["Socket.Service"] = "\"api\"",
        ["Health.StartupProbe"] = "{ Exec = [\"/usr/bin/test\", \"-e\", \"/run/warm\"], PeriodSec = 1, FailureThreshold = 30 }",
        ["Health.LivenessProbe"] = "{ Http = \"http://127.0.0.1:8080/healthz\", PeriodSec = \"5s\", TimeoutSec = 0.5 }",
        ["Health.ReadinessProbe"] = "{ Tcp = \"[::1]:8080\", PeriodSec = 0.2, TimeoutSec = \"100ms\", SuccessThreshold = 2, InitialDelaySec = 1 }",
    };

    [Fact]
    public void Every_key_has_a_sample()
    {
        var keys = KeyTable.All.Select(k => $"{k.Section}.{k.Name}").ToHashSet();
        Assert.Empty(keys.Except(Samples.Keys));
        Assert.Empty(Samples.Keys.Except(keys));
    }

    [Fact]
    public void Key_table_has_no_duplicates()
    {
        var dupes = KeyTable.All.GroupBy(k => (k.Section, k.Name)).Where(g => g.Count() > 1).Select(g => g.Key);
        Assert.Empty(dupes);
    }

    public static TheoryData<string> Keys() => new(KeyTable.All.Select(k => $"{k.Section}.{k.Name}"));

    [Theory]
    [MemberData(nameof(Keys))]
    public void Key_round_trips_through_show(string id)
    {
        var (section, key) = (id[..id.IndexOf('.')], id[(id.IndexOf('.') + 1)..]);
        var text = $"[{section}]\n{key} = {Samples[id]}\n";
        bool socket = section == KeyTable.SocketSection;
        var (name, kind) = socket ? ("web.socket", UnitKind.Socket) : ("svc", UnitKind.Service);
        if (socket) { }
        else if (section != "Service") text += Parse.MinimalService;
        else if (key != "ExecStart") text += "ExecStart = [\"/bin/true\"]\n";
        var (first, diagnostics) = Parse.Service(text, name, kind);
        Assert.True(first is not null, string.Join("\n", diagnostics));

        var spec = KeyTable.Find(section, key)!;
        Assert.NotNull(spec.Get(first!));
        var defaults = socket ? Parse.Valid("[Socket]\n", name, kind) : Parse.Valid(Parse.MinimalService);
        Assert.NotEqual(spec.Get(defaults) is { } d ? Render(d) : null, Render(spec.Get(first!)!));

        var shown = UnitFormatter.ToToml(first!);
        var second = Parse.Valid(shown, name, kind);
        Assert.Equal(first! with { Sources = second.Sources }, second);
    }

    private static string Render(object plain)
    {
        var sb = new System.Text.StringBuilder();
        UnitFormatter.WriteToml(sb, plain);
        return sb.ToString();
    }

    [Fact]
    public void Example_units_round_trip_through_show()
    {
        var dir = Path.Combine(RepoRoot(), "units");
        var set = UnitLoader.LoadDirectory(dir, new LoadOptions { RequireRootOwnership = false });
        Assert.False(set.HasErrors, string.Join("\n", set.Diagnostics));
        Assert.True(set.Units.Count >= 6);
        foreach (var (name, parsed) in set.Units)
        {
            var again = Parse.Valid(UnitFormatter.ToToml(parsed.Definition), name, parsed.Definition.Kind);
            Assert.Equal(parsed.Definition with { Sources = again.Sources }, again);
        }
    }

    [Fact]
    public void Show_json_has_every_set_key()
    {
        var unit = Parse.Valid("[Service]\nExecStart = [\"/bin/true\"]\nRestart = \"always\"\n[Resources]\nMemoryMax = \"1G\"\n");
        using var doc = System.Text.Json.JsonDocument.Parse(UnitFormatter.ToJson(unit));
        Assert.Equal("always", doc.RootElement.GetProperty("Service").GetProperty("Restart").GetString());
        Assert.Equal("1G", doc.RootElement.GetProperty("Resources").GetProperty("MemoryMax").GetString());
        Assert.Equal("/bin/true", doc.RootElement.GetProperty("Service").GetProperty("ExecStart")[0].GetString());
        Assert.False(doc.RootElement.GetProperty("Resources").TryGetProperty("MemoryHigh", out _));
    }

    internal static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Supervisor.sln"))) return d.FullName;
        throw new InvalidOperationException("Supervisor.sln not found above " + AppContext.BaseDirectory);
    }
}
