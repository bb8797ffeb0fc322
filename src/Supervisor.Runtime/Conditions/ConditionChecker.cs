using Supervisor.Linux.Proc;
using Supervisor.Sandbox.Compiler;
using Supervisor.Units.Keys;
using Supervisor.Units.Model;
using Supervisor.Units.Values;

namespace Supervisor.Runtime.Conditions;

/// <summary>
/// Checks a unit's Condition* and Assert* entries against this host, as systemd 252's
/// condition.c does for the supervisor itself (its uid, groups, bounding set and environment);
/// the combination rule is <see cref="ConditionRule"/>. A check that cannot be made (an
/// unreadable file) counts as not met, as systemd counts an error.
/// </summary>
public sealed class ConditionChecker(HostFacts? facts = null)
{
    private readonly HostFacts _facts = facts ?? new HostFacts();

    /// <summary>
    /// RequiresMountsFor= first (in systemd a failed dependency fails the job before the unit's
    /// own conditions are looked at; it is reported as the assert outcome, marked Dependency), then
    /// the conditions, then the asserts (systemd tests the asserts only when the conditions hold; both are reported).
    /// </summary>
    public (ConditionOutcome Conditions, ConditionOutcome Asserts) Check(UnitDefinition unit)
    {
        if (RequiredMounts.Missing(unit.Unit.RequiresMountsFor, _facts) is { } missing)
            return (ConditionOutcome.None(false), new ConditionOutcome(true, false, ValueList<UnitCondition>.Empty, missing, Dependency: true));
        var all = unit.Unit.Conditions;
        var conditions = ConditionRule.Combine(false, [.. all.Where(c => !c.IsAssert).Select(c => (c, Holds(c)))]);
        if (!conditions.Met) return (conditions, ConditionOutcome.None(true));
        return (conditions, ConditionRule.Combine(true, [.. all.Where(c => c.IsAssert).Select(c => (c, Holds(c)))]));
    }

    /// <summary>One entry, negation applied.</summary>
    public bool Holds(UnitCondition c)
    {
        bool raw;
        try
        {
            raw = Test(c.Kind, c.Parameter);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return false;
        }
        return raw != c.Negate;
    }

    private bool Test(string kind, string p) => kind switch
    {
        "PathExists" => Paths.Exists(p),
        "PathExistsGlob" => Paths.GlobMatchesAny(p),
        "PathIsDirectory" => Directory.Exists(p),
        "PathIsSymbolicLink" => Paths.IsSymlink(p),
        "PathIsMountPoint" => Mounts.IsMountPoint(p),
        "PathIsReadWrite" => Mounts.IsReadWrite(p),
        "DirectoryNotEmpty" => Paths.DirectoryNotEmpty(p),
        "FileNotEmpty" => Paths.FileNotEmpty(p),
        "FileIsExecutable" => Paths.FileIsExecutable(p),
        "User" => User(p),
        "Group" => Group(p),
        "Capability" => Capabilities.TryParse(p, out var cap) && (Self().CapBnd is { } bnd) && (bnd & (1UL << cap)) != 0,
        "Virtualization" => _facts.Virtualization(p),
        "KernelCommandLine" => KernelCommandLine(p),
        "KernelVersion" => p.Split(' ', StringSplitOptions.RemoveEmptyEntries).All(w => KernelVersionExpression.Test(_facts.KernelRelease(), w)),
        "Environment" => Environment(p),
        "Security" => _facts.Security(p),
        "ACPower" => _facts.OnAcPower() == IsTrue(p),
        "Host" => Host(p),
        "Architecture" => p == "native" || p == HostFacts.Architecture(),
        "Firmware" => _facts.Firmware(p),
        "FirstBoot" => (CommandLineOverride("systemd.condition-first-boot") ?? _facts.FirstBoot()) == IsTrue(p),
        "NeedsUpdate" => CommandLineOverride("systemd.condition-needs-update") ?? UpdateStamps.NeedsUpdate(p, _facts.UsrDirectory),
        "Credential" => Credential(p),
        "OSRelease" => ResourceChecks.OsRelease(p, _facts.OsRelease()),
        "Memory" => ResourceChecks.Memory(p, _facts.PhysicalMemory()),
        "CPUs" => ResourceChecks.Cpus(p, _facts.AllowedCpus()),
        "CPUFeature" => _facts.CpuFlags().Contains(p),
        "ControlGroupController" => ResourceChecks.ControlGroupController(p, _facts.CgroupUnified(), _facts.CgroupControllers()),
        "MemoryPressure" => ResourceChecks.Pressure(p, Path.Combine(_facts.PressureDirectory, "memory")),
        "CPUPressure" => ResourceChecks.Pressure(p, Path.Combine(_facts.PressureDirectory, "cpu")),
        "IOPressure" => ResourceChecks.Pressure(p, Path.Combine(_facts.PressureDirectory, "io")),
        "PathIsEncrypted" => ResourceChecks.PathIsEncrypted(p, _facts.DeviceOf(p), _facts.SysDevBlock),
        _ => false,
    };

    private static ProcStatus Self() => ProcStatus.Read(System.Environment.ProcessId);

    private static bool IsTrue(string p) => KeyTable.SystemdBoolWord(p) == true;

    /// <summary>ConditionUser: a uid, a user name, or "@system" (a uid up to 999, Debian's SYS_UID_MAX), against the supervisor's real or effective uid.</summary>
    private bool User(string p)
    {
        var ids = Self().Uid ?? throw new IOException("no Uid in /proc/self/status");
        if (p == "@system") return ids.Real < 1000 || ids.Effective < 1000;
        uint? uid = uint.TryParse(p, out var n) ? n : _facts.Users().FindUser(p)?.Uid;
        return uid is { } u && (ids.Real == u || ids.Effective == u);
    }

    /// <summary>ConditionGroup: a gid or group name, against the supervisor's real and effective gid and its supplementary groups.</summary>
    private bool Group(string p)
    {
        var status = Self();
        uint? gid = uint.TryParse(p, out var n) ? n : _facts.Users().FindGroup(p);
        if (gid is not { } g) return false;
        return status.Gid is { } ids && (ids.Real == g || ids.Effective == g) || status.Groups.Contains(g);
    }

    /// <summary>A word of /proc/cmdline equal to the parameter; a parameter without "=" also matches "PARAMETER=…" (systemd's proc_cmdline rule).</summary>
    private bool KernelCommandLine(string p)
    {
        foreach (var word in _facts.KernelCommandLine().Split([' ', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            var w = word.Trim('"');
            if (w == p) return true;
            if (!p.Contains('=') && w.StartsWith(p + "=", StringComparison.Ordinal)) return true;
        }
        return false;
    }

    /// <summary>"NAME=bool" on the kernel command line (the last one wins), as systemd's proc_cmdline_get_bool; a bare NAME is true.</summary>
    private bool? CommandLineOverride(string name)
    {
        bool? value = null;
        foreach (var word in _facts.KernelCommandLine().Split([' ', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            if (word == name) value = true;
            else if (word.StartsWith(name + "=", StringComparison.Ordinal))
            {
                value = KeyTable.SystemdBoolWord(word[(name.Length + 1)..]) ?? value;
            }
        }
        return value;
    }

    /// <summary>ConditionCredential: a file (or anything) of that name in the supervisor's own credential directories.</summary>
    private static bool Credential(string p)
    {
        if (!KeyTable.IsCredentialName(p)) return false;
        foreach (var variable in (string[])["CREDENTIALS_DIRECTORY", "ENCRYPTED_CREDENTIALS_DIRECTORY"])
            if (System.Environment.GetEnvironmentVariable(variable) is { Length: > 0 } dir && Path.Exists(Path.Combine(dir, p)))
                return true;
        return false;
    }

    private static bool Environment(string p)
    {
        var eq = p.IndexOf('=');
        if (eq < 0) return System.Environment.GetEnvironmentVariable(p) is not null;
        return System.Environment.GetEnvironmentVariable(p[..eq]) == p[(eq + 1)..];
    }

    /// <summary>ConditionHost: a machine ID (32 hex digits) compared with /etc/machine-id, else a glob over the host name.</summary>
    private bool Host(string p)
    {
        if (p.Length == 32 && p.All(char.IsAsciiHexDigit))
            return string.Equals(_facts.MachineId(), p, StringComparison.OrdinalIgnoreCase);
        return Glob.Matches(p, _facts.HostName());
    }
}

/// <summary>The host facts the checker reads, as overridable methods so tests can pin them.</summary>
public class HostFacts
{
    public virtual string KernelRelease() => File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
    public virtual string KernelCommandLine() => File.ReadAllText("/proc/cmdline");
    public virtual string HostName() => File.ReadAllText("/proc/sys/kernel/hostname").Trim();
    public virtual string? MachineId() => File.Exists("/etc/machine-id") ? File.ReadAllText("/etc/machine-id").Trim() : null;
    public virtual UserDatabase Users() => UserDatabase.Load();
    public virtual bool Virtualization(string p) => Conditions.Virtualization.Matches(p);
    public virtual bool Security(string p) => SecurityFacts.IsOn(p);
    public virtual bool OnAcPower() => PowerFacts.OnAcPower();
    public virtual bool Firmware(string p) => FirmwareFacts.Is(p);
    public virtual bool FirstBoot() => UpdateStamps.FirstBoot("/etc/machine-id");
    /// <summary>The directory whose modification time ConditionNeedsUpdate compares (systemd: "/usr/").</summary>
    public virtual string UsrDirectory => "/usr/";
    /// <summary>The file systems RequiresMountsFor may need: /etc/fstab's mount points.</summary>
    public virtual string FstabPath => "/etc/fstab";
    public virtual IReadOnlySet<string> MountedPoints() => Mounts.Points();
    public virtual IReadOnlyDictionary<string, string> OsRelease() => ResourceChecks.ReadOsRelease();
    public virtual ulong PhysicalMemory() => ResourceChecks.PhysicalMemory();
    public virtual int AllowedCpus() => ResourceChecks.AllowedCpus();
    public virtual IReadOnlySet<string> CpuFlags() => ResourceChecks.CpuFlags();
    public virtual bool CgroupUnified() => Supervisor.Cgroups.CgroupLayout.Detect().IsV2;
    public virtual IReadOnlySet<string> CgroupControllers() => Supervisor.Cgroups.CgroupLayout.Detect().AvailableControllers;
    public virtual string PressureDirectory => "/proc/pressure";
    public virtual string SysDevBlock => "/sys/dev/block";
    /// <summary>The device the path's file system is on (major, minor), or null when it cannot be stat'ed.</summary>
    public virtual (uint Major, uint Minor)? DeviceOf(string path) =>
        Linux.Files.Statx.Identity(path) is { } id ? ((uint)(id.Dev >> 32), (uint)(id.Dev & 0xFFFFFFFF)) : null;

    /// <summary>This machine's architecture in systemd's names.</summary>
    public static string Architecture() => System.Runtime.InteropServices.RuntimeInformation.OSArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => "x86-64",
        System.Runtime.InteropServices.Architecture.X86 => "x86",
        System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
        System.Runtime.InteropServices.Architecture.Arm or System.Runtime.InteropServices.Architecture.Armv6 => "arm",
        System.Runtime.InteropServices.Architecture.S390x => "s390x",
        System.Runtime.InteropServices.Architecture.Ppc64le => "ppc64-le",
        System.Runtime.InteropServices.Architecture.RiscV64 => "riscv64",
        System.Runtime.InteropServices.Architecture.LoongArch64 => "loongarch64",
        var other => other.ToString().ToLowerInvariant(),
    };
}
