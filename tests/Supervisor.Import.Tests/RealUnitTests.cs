using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Supervisor.Import.Ini;
using Supervisor.Import.Translate;
using Supervisor.Units;
using Supervisor.Units.Keys;
using Supervisor.Units.Model;
using Supervisor.Units.Values;

namespace Supervisor.Import.Tests;

/// <summary>
/// Debian's own unit files, from the packages install.sh --test-deps installs, imported with
/// nothing edited: what is written passes `supervisor check`, and every key carried has the value
/// systemd itself reads from the original, checked against systemd's own tools where they say it
/// (systemd-analyze timespan for time spans, systemd-analyze security --offline for the sandbox)
/// and against the original's assignments otherwise.
/// </summary>
public sealed class RealUnitTests : IDisposable
{
    private const string SystemDir = "/lib/systemd/system";
    private readonly Scratch _s = new();

    public void Dispose() => _s.Dispose();

    public static readonly TheoryData<string> Units =
    [
        "redis-server.service", "nginx.service", "memcached.service", "haproxy.service", "cron.service",
        "rsyslog.service", "ssh.service", "dbus.service", "postgresql@.service", "postgresql.service",
    ];

    private static string Installed(string unit)
    {
        var path = Path.Combine(SystemDir, unit);
        if (!File.Exists(path)) Assert.Skip($"{path} is not installed here (sudo ./install.sh --test-deps installs its Debian package)");
        return path;
    }

    /// <summary>Imports the unit into the scratch output directory and loads what was written, as the daemon would.</summary>
    private async Task<ParsedUnit> Import(string unit)
    {
        var path = Installed(unit);
        var (code, output, error) = await Cli.Run("import", path, "--out", _s.Out);
        Assert.True(code is 0 or Supervisor.Cli.Commands.ImportCommand.NotAllCarried, $"exit {code}\n{output}\n{error}");
        var name = unit.EndsWith(".service", StringComparison.Ordinal) ? unit[..^".service".Length] : unit;
        // A template is loaded as systemd would run it: as an instance (an empty file beside it, like an enablement symlink).
        if (name.EndsWith('@'))
        {
            name += "15-main";
            File.WriteAllText(Path.Combine(_s.Out, name + ".toml"), "");
        }
        var set = UnitLoader.Load([Path.Combine(_s.Out, name + ".toml")], new LoadOptions { RequireRootOwnership = false });
        Assert.False(set.HasErrors, string.Join("\n", set.Diagnostics));
        return set.Units[name];
    }

    [Theory, MemberData(nameof(Units))]
    public async Task The_unit_imports_and_what_is_written_passes_check(string unit)
    {
        await Import(unit);
        var (code, output, _) = await Cli.Run("check", _s.Out);
        Assert.True(code == 0, output);
    }

    [Theory, MemberData(nameof(Units))]
    public async Task Every_key_carried_has_the_value_systemd_reads(string unit)
    {
        var parsed = await Import(unit);
        var (units, _) = UnitSources.Discover([Installed(unit)]);
        var assignments = units.Single().Assignments.ToList();
        int compared = 0;
        foreach (var spec in KeyTable.All.Where(k => parsed.Values.ContainsKey(k.Section + "." + k.Name)))
        {
            var value = spec.Get(parsed.Definition);
            var raw = Final(assignments, spec.Name);
            // systemd resolves a template's specifiers for the instance, as the loader does here.
            if (raw is not null)
                raw = Supervisor.Units.Templates.Specifiers.Expand(raw, new Supervisor.Units.Templates.UnitNameParts(parsed.Definition.Name, parsed.Definition.Kind));
            if (spec.Type == ValueTypes.Duration.Describe)
            {
                raw ??= Final(assignments, "TimeoutSec");
                if (raw is null)
                {
                    // Written without an assignment: systemd's own default (no start timeout for a oneshot).
                    Assert.Equal(("TimeoutStartSec", "oneshot", "infinity"), (spec.Name, Final(assignments, "Type"), value));
                    continue;
                }
                long usec = SystemdAnalyzeTimespan(raw);
                bool noTimeout = usec == 0 && spec.Name.StartsWith("Timeout", StringComparison.Ordinal);
                Assert.Equal(noTimeout ? Duration.Infinity : new Duration(usec), Duration.Parse((string)value!));
            }
            else if (spec.Type == ValueTypes.Bool.Describe)
            {
                // systemd.syntax(7): "1, yes, true and on" and "0, no, false and off", in any case.
                Assert.Equal(raw!.ToLowerInvariant() is "1" or "yes" or "true" or "on", value);
            }
            else if (value is string && (spec.Type.StartsWith('"') || spec.Type == ValueTypes.String.Describe || spec.Type == ValueTypes.AbsolutePath.Describe))
            {
                Assert.Equal(raw, value);
            }
            else if (spec.Name.StartsWith("Limit", StringComparison.Ordinal) && value is long limit)
            {
                Assert.Equal(raw, limit.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            else continue;
            compared++;
        }
        Assert.True(compared > 0, "no key was compared");
    }

    /// <summary>The value a directive ends with: the last assignment, or null if an empty one reset it or there is none.</summary>
    private static string? Final(List<IniAssignment> assignments, string key)
    {
        string? value = null;
        foreach (var a in assignments.Where(a => a.Key == key && a.Section != "Install"))
            value = a.Value.Length == 0 ? null : a.Value;
        return value;
    }

    [Theory, MemberData(nameof(Units))]
    public async Task The_sandbox_carried_is_the_one_systemd_analyze_security_reads(string unit)
    {
        var parsed = await Import(unit);
        var checks = SystemdAnalyzeSecurity(Installed(unit));
        var x = parsed.Definition.Sandbox;
        var s = parsed.Definition.Service;
        // A check systemd says "does not matter" for (set: null, e.g. SupplementaryGroups of a root service) is not compared.
        void Agree(string name, bool ours)
        {
            if (checks.Single(c => c.Name == name).Set is { } set) Assert.True(set == ours, $"{name}: systemd reads {set}, the import carried {ours}");
        }
        Agree("NoNewPrivileges=", x.NoNewPrivileges);
        Agree("PrivateTmp=", x.PrivateTmp);
        Agree("PrivateDevices=", x.PrivateDevices);
        Agree("ProtectKernelTunables=", x.ProtectKernelTunables);
        Agree("ProtectControlGroups=", x.ProtectControlGroups);
        Agree("SystemCallArchitectures=", x.SystemCallArchitectures.SequenceEqual([SyscallArchitecture.Native]));
        Agree("AmbientCapabilities=", x.AmbientCapabilities.Count == 0);
        Agree("SupplementaryGroups=", s.SupplementaryGroups.Count == 0);
        Agree("RootDirectory=/RootImage=", x.RootDirectory is not null);
        Agree("User=/DynamicUser=", s.User is { } user && user != "root" && user != "0");
        // Every other boolean sandbox key systemd-analyze judges by its name (LockPersonality=,
        // ProtectClock= …, as the key table has them): carried as systemd reads it.
        foreach (var spec in KeyTable.InSection(KeyTable.SandboxSection).Where(k => k.Type == ValueTypes.Bool.Describe))
            if (checks.Any(c => c.Name == spec.Name + "="))
                Agree(spec.Name + "=", spec.Get(parsed.Definition) is true);
        var protectSystem = checks.Single(c => c.Name == "ProtectSystem=").Description;
        Assert.Equal(x.ProtectSystem switch
        {
            ProtectSystem.Strict => "strict read-only access",
            ProtectSystem.Full => "very limited write access",
            ProtectSystem.Yes => "limited write access",
            _ => "full access",
        }, Regex.Match(protectSystem, "(strict read-only|very limited write|limited write|full) access").Value);
        CapabilitiesAgree(checks, parsed.Definition);
        SystemCallGroupsAgree(checks, x.SystemCallFilter);
    }

    /// <summary>
    /// Each "CapabilityBoundingSet=~CAP_…" check is set when no capability it names is left in the
    /// bounding set: the unit's own, less what ProtectClock, ProtectKernelModules and
    /// ProtectKernelLogs take out (as systemd's do). systemd's PrivateDevices also takes out
    /// CAP_MKNOD and CAP_SYS_RAWIO, which Supervisor's PrivateDevices does not: for those two
    /// only "absent here, so absent in systemd" is asserted.
    /// </summary>
    private static void CapabilitiesAgree(List<SecurityCheck> checks, UnitDefinition u)
    {
        ulong mask = u.Sandbox.CapabilityBoundingSet?.Mask(Capabilities.Last) ?? ulong.MaxValue;
        foreach (var (_, cap) in u.Sandbox.KernelCapabilityDrops) mask &= ~(1UL << cap);
        string[] impliedElsewhere = ["CAP_MKNOD", "CAP_SYS_RAWIO"];
        int compared = 0;
        foreach (var check in checks.Where(c => c.Name.StartsWith("CapabilityBoundingSet=~", StringComparison.Ordinal)))
        {
            var pattern = new Regex("^" + check.Name["CapabilityBoundingSet=~".Length..].Replace("*", "[A-Z_]*") + "$");
            var named = Capabilities.AllNames.Select((n, i) => (n, i)).Where(c => pattern.IsMatch(c.n)).ToList();
            Assert.NotEmpty(named);
            bool absentHere = named.All(c => (mask & (1UL << c.i)) == 0);
            if (check.Set is not { } set) continue;
            if (named.Any(c => impliedElsewhere.Contains(c.n)))
            {
                if (absentHere) Assert.True(set, check.Name);
                continue;
            }
            Assert.True(absentHere == set, $"{check.Name}: systemd says {(set ? "absent" : "present")}");
            compared++;
        }
        Assert.True(compared > 10);
    }

    /// <summary>"SystemCallFilter=~@group" is set when the allow list admits none of the group's calls.</summary>
    private static void SystemCallGroupsAgree(List<SecurityCheck> checks, SyscallFilter? filter)
    {
        foreach (var check in checks.Where(c => c.Name.StartsWith("SystemCallFilter=~@", StringComparison.Ordinal)))
        {
            if (check.Set is not { } set) continue;
            if (filter is null)
            {
                Assert.False(set, check.Name);
                continue;
            }
            if (!filter.IsAllowList) continue;
            var group = SyscallTable.Expand(check.Name["SystemCallFilter=~".Length..]);
            bool noneAllowed = !filter.Resolve().Overlaps(group);
            Assert.True(noneAllowed == set, $"{check.Name}: systemd says {(set ? "none" : "some")} of the group is allowed");
        }
    }

    [Fact]
    public async Task Quoted_arguments_and_a_zero_stop_timeout_keep_their_meaning()
    {
        var nginx = await Import("nginx.service");
        Assert.Equal(["/usr/sbin/nginx", "-g", "daemon on; master_process on;"], nginx.Definition.Service.ExecStart!.Argv);
        Assert.True(nginx.Definition.Service.ExecStop.Single().IgnoreFailure);
        var redis = await Import("redis-server.service");
        Assert.True(redis.Definition.Service.TimeoutStopSec.IsInfinity);
        Assert.Equal(["-/var/lib/redis", "-/var/log/redis", "-/var/run/redis", "-/etc/redis"], redis.Definition.Sandbox.ReadWritePaths.Select(p => p.ToString()));
        Assert.Empty(redis.Definition.Sandbox.CapabilityBoundingSet!.Capabilities);
        // Debian's redis needs /run/redis owned by redis: RuntimeDirectory and its mode are carried.
        Assert.Equal(["redis"], redis.Definition.Service.RuntimeDirectory);
        Assert.Equal(0x5EDu, redis.Definition.Service.RuntimeDirectoryMode);
    }

    [Fact]
    public async Task Variables_from_an_EnvironmentFile_are_kept_for_the_start_to_expand()
    {
        var cron = await Import("cron.service");
        // Debian: ExecStart=/usr/sbin/cron -f $EXTRA_OPTS; Supervisor splits $EXTRA_OPTS when cron starts, as systemd does.
        Assert.Equal(["/usr/sbin/cron", "-f", "$EXTRA_OPTS"], cron.Definition.Service.ExecStart!.Argv);
    }

    private sealed record SecurityCheck(string Name, bool? Set, string Description);

    private static List<SecurityCheck> SystemdAnalyzeSecurity(string path)
    {
        var json = Run("systemd-analyze", "security", "--offline=true", "--json=short", path);
        return [.. JsonDocument.Parse(json).RootElement.EnumerateArray().Select(e =>
            new SecurityCheck(e.GetProperty("name").GetString()!,
                e.GetProperty("set").ValueKind == JsonValueKind.Null ? null : e.GetProperty("set").GetBoolean(), e.GetProperty("description").GetString()!))];
    }

    private static long SystemdAnalyzeTimespan(string value)
    {
        var output = Run("systemd-analyze", "timespan", value);
        var match = Regex.Match(output, @"μs: (\d+|infinity)");
        Assert.True(match.Success, output);
        return match.Groups[1].Value == "infinity" ? long.MaxValue : long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string Run(string program, params string[] args) => Programs.Run(program, args);
}
