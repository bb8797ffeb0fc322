using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using Supervisor.Sandbox.Tests.Support;

namespace Supervisor.Sandbox.Tests;

/// <summary>The C and C# sides of the plan protocol agree: constants, step codes and the bytes themselves.</summary>
public partial class HelperProtocolTests
{
    [GeneratedRegex(@"^#define\s+([A-Z0-9_]+)\s+\(?([0-9xXa-fA-F]+)u?(?:\s*\*\s*([0-9]+)u?\s*\*\s*([0-9]+)u?)?\)?", RegexOptions.Multiline)]
    private static partial Regex Define();

    private static Dictionary<string, ulong> PlanH()
    {
        var text = File.ReadAllText(Path.Combine(Host.RepoRoot(), "src", "helper", "plan.h"));
        var result = new Dictionary<string, ulong>();
        foreach (Match m in Define().Matches(text))
        {
            var v = m.Groups[2].Value;
            ulong value = v.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
                ? ulong.Parse(v[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)
                : ulong.Parse(v, CultureInfo.InvariantCulture);
            if (m.Groups[3].Success)
                value *= ulong.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture) * ulong.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture);
            result[m.Groups[1].Value] = value;
        }
        return result;
    }

    /// <summary>C# name of each plan.h constant: the comment after every C# constant names it.</summary>
    private static Dictionary<string, ulong> CSharp()
    {
        var source = File.ReadAllText(Path.Combine(Host.RepoRoot(), "src", "Supervisor.Sandbox", "HelperProtocol.cs"));
        var result = new Dictionary<string, ulong>();
        foreach (var field in typeof(HelperProtocol).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral))
        {
            var m = Regex.Match(source, $@"\b{field.Name}\s*=[^;]*;\s*//\s*([A-Z0-9_]+)");
            if (m.Success)
                result[m.Groups[1].Value] = Convert.ToUInt64(field.GetRawConstantValue(), CultureInfo.InvariantCulture);
        }
        foreach (var step in Enum.GetValues<SetupStep>())
        {
            var m = Regex.Match(source, $@"\b{step}\s*=\s*\d+,\s*//\s*(STEP_[A-Z0-9_]+)");
            Assert.True(m.Success, $"SetupStep.{step} has no // STEP_ comment naming its plan.h constant");
            result[m.Groups[1].Value] = (uint)step;
        }
        return result;
    }

    [Fact]
    public void Every_constant_agrees_with_plan_h()
    {
        var c = PlanH();
        var cs = CSharp();
        // Every C constant except the include guard has a C# twin with the same value, and back.
        var cNames = c.Keys.Where(k => k != "SUPERVISOR_PLAN_H").ToHashSet();
        Assert.Empty(cNames.Except(cs.Keys));
        Assert.Empty(cs.Keys.Except(cNames));
        foreach (var name in cNames)
            Assert.True(c[name] == cs[name], $"{name}: plan.h says {c[name]}, HelperProtocol.cs says {cs[name]}");
        Assert.True(c.Count > 80, "the plan.h parser found too few constants to be trusted");
    }

    [Fact]
    public void Step_codes_are_never_renumbered()
    {
        // Append-only: this list is the contract that lets an old supervisor read a new helper.
        Assert.Equal(26u, (uint)SetupStep.Exec);
        Assert.Equal(25u, (uint)SetupStep.Seccomp);
        Assert.Equal(Enumerable.Range(0, 44).Select(i => (uint)i), Enum.GetValues<SetupStep>().Select(s => (uint)s).Order());
    }

    internal static ExecPlan FullPlan() => new()
    {
        Path = "/usr/bin/python3",
        Argv = ["python3", "-m", "http.server", "8080"],
        Environment = ["LANG=C.UTF-8", "HOME=/var/lib/site"],
        WorkingDirectory = "/srv/site",
        Identity = new Identity(33, 33, [33, 4]),
        Namespaces = NamespaceFlags.Pid | NamespaceFlags.Net | NamespaceFlags.Mount | NamespaceFlags.Ipc | NamespaceFlags.Uts,
        UidMap = [new IdMapEntry(0, 100000, 65536)],
        GidMap = [new IdMapEntry(0, 100000, 65536)],
        Hostname = "site",
        Mounts =
        [
            new RemountMount("/", true), new BindMount("/var/lib/site", "/var/lib/site", false), new TmpfsMount("/tmp"),
            new ProcMount("/proc", "hidepid=invisible"), new InaccessibleMount("/root", true), new MinimalDevMount("/dev"),
            new MkdirOperation("/run/site", 0x1C0), new PivotRootOperation("/srv/root"),
        ],
        ResourceLimits = [new ResourceLimit(RlimitResource.Nofile, 1024, 4096), new ResourceLimit(RlimitResource.Core, 0, ResourceLimit.Infinity)],
        Capabilities = new CapabilitySets(0x400, 0x400, 0x400, 0x400, 0x400),
        SecureBits = 0x2f,
        NoNewPrivileges = true,
        LoopbackUp = true,
        Lsm = new LsmLabel(LsmKind.AppArmor, "supervisor-site", true),
        SeccompBpf = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
        CgroupJoins =
        [
            new CgroupJoin("/sys/fs/cgroup/memory/web/tasks", CgroupJoinWrite.CallingThread),
            new CgroupJoin("/sys/fs/cgroup/unified/web/cgroup.procs", CgroupJoinWrite.ProcessId),
        ],
        Keyring = KeyringMode.Shared,
        UMask = 0x17,
        Process = new ProcessAttributes(Nice: -5, SchedPolicy: 2, SchedPriority: 10, SchedResetOnFork: true, IoPriority: (2u << 13) | 7, OomScoreAdjust: -900, IgnoreSigpipe: true),
        Terminal = TerminalMode.Force,
        Landlock = new LandlockRuleset(LandlockAccess.FilesystemRights(7), LandlockAccess.BindTcp | LandlockAccess.ConnectTcp, LandlockAccess.ScopeSignal)
        {
            Paths = [new LandlockPathRule("/usr", LandlockAccess.Execute | LandlockAccess.ReadFile | LandlockAccess.ReadDir, false), new LandlockPathRule("/var/lib/site", 0xffff, true)],
            Ports = [new LandlockPortRule(443, LandlockAccess.ConnectTcp), new LandlockPortRule(8080, LandlockAccess.BindTcp | LandlockAccess.ConnectTcp)],
            Abi = 7,
        },
    };

    /// <summary>The same text the helper's --dump-plan prints, rendered from the C# plan.</summary>
    private static string Render(ExecPlan p)
    {
        var sb = new StringBuilder();
        void L(string s) => sb.Append(s).Append('\n');
        L($"path {p.Path}");
        foreach (var a in p.Argv) L($"arg {a}");
        foreach (var e in p.Environment) L($"env {e}");
        if (p.WorkingDirectory is { } cwd) L($"cwd {cwd}");
        if (p.Identity is { } id) L($"identity {id.Uid} {id.Gid}{string.Concat(id.SupplementaryGroups.Select(g => $" {g}"))}");
        L($"nsflags 0x{(uint)p.Namespaces:x8}");
        if (!p.UidMap.IsEmpty) L($"uid_map {IdMapEntry.Format(p.UidMap)}");
        if (!p.GidMap.IsEmpty) L($"gid_map {IdMapEntry.Format(p.GidMap)}");
        if (p.Hostname is { } h) L($"hostname {h}");
        foreach (var m in p.Mounts)
        {
            var (op, flags, mode, src, dst, data) = m.Encode();
            L($"mount {op} 0x{flags:x} 0{Convert.ToString(mode, 8)} [{src}] [{dst}] [{data}]");
        }
        foreach (var r in p.ResourceLimits) L($"rlimit {(uint)r.Resource} {r.Soft} {r.Hard}");
        if (p.Capabilities is { } c) L($"caps 0x{c.Bounding:x} 0x{c.Permitted:x} 0x{c.Effective:x} 0x{c.Inheritable:x} 0x{c.Ambient:x}");
        if (p.SecureBits is { } sbits) L($"securebits 0x{sbits:x}");
        L($"flags 0x{(p.NoNewPrivileges ? 1 : 0) | (p.LoopbackUp ? 2 : 0):x}");
        if (p.Lsm is { } lsm) L($"lsm {(uint)lsm.Kind} {(lsm.SkipIfUnavailable ? 1 : 0)} {lsm.Value}");
        if (!p.SeccompBpf.IsEmpty) L($"seccomp {p.SeccompBpf.Length / 8}");
        foreach (var cg in p.CgroupJoins) L($"cgroup {(cg.Write == CgroupJoinWrite.CallingThread ? "thread" : "pid")} {cg.File}");
        L($"keyring {(uint)p.Keyring}");
        if (p.UMask is { } umask) L($"umask 0{Convert.ToString(umask, 8).PadLeft(3, '0')}");
        var pa = p.Process;
        uint paFlags = (pa.Nice is null ? 0u : 1) | (pa.SchedPolicy is null ? 0u : 2) | (pa.SchedPolicy is not null && pa.SchedResetOnFork ? 4u : 0) |
            (pa.IoPriority is null ? 0u : 8) | (pa.OomScoreAdjust is null ? 0u : 0x10) | (pa.IgnoreSigpipe ? 0x20u : 0);
        if (paFlags != 0) L($"procattr 0x{paFlags:x} {pa.Nice ?? 0} {pa.SchedPolicy ?? 0} {pa.SchedPriority} 0x{pa.IoPriority ?? 0:x} {pa.OomScoreAdjust ?? 0}");
        if (p.Terminal != TerminalMode.None) L($"tty {(uint)p.Terminal}");
        if (p.Landlock is { } ll)
        {
            L($"landlock 0x{ll.HandledFs:x} 0x{ll.HandledNet:x} 0x{ll.Scoped:x}");
            foreach (var r in ll.Paths) L($"landlock-path 0x{r.Access:x} 0x{(r.Optional ? 1 : 0):x} {r.Path}");
            foreach (var r in ll.Ports) L($"landlock-port 0x{r.Access:x} {r.Port}");
        }
        return sb.ToString();
    }

    private static (int Code, string Output, string Error) RunDump(byte[] bytes)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(Host.HelperPath, "--dump-plan")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        p.StandardInput.BaseStream.Write(bytes);
        p.StandardInput.Close();
        p.WaitForExit();
        return (p.ExitCode, output.GetAwaiter().GetResult(), error.GetAwaiter().GetResult());
    }

    private static string Dump(byte[] bytes)
    {
        var (code, output, error) = RunDump(bytes);
        Assert.True(code == 0, $"the helper rejected the plan: {error}");
        return output;
    }

    [Fact]
    public void The_helper_reads_back_exactly_what_the_serializer_wrote()
    {
        var plan = FullPlan();
        Assert.Equal(Render(plan), Dump(HelperProtocol.Serialize(plan)));
        var minimal = Probe.Plan("exit", "0");
        Assert.Equal(Render(minimal), Dump(HelperProtocol.Serialize(minimal)));
    }

    [Fact]
    public void The_helper_rejects_a_truncated_plan()
    {
        var bytes = HelperProtocol.Serialize(FullPlan());
        var (code, _, error) = RunDump(bytes[..^20]);
        Assert.Equal(1, code);
        Assert.Contains("cannot read plan", error);
    }

    [Fact]
    public void The_same_plan_always_serializes_to_the_same_bytes()
    {
        Assert.Equal(HelperProtocol.Serialize(FullPlan()), HelperProtocol.Serialize(FullPlan()));
    }

    [Fact]
    public void Invalid_plans_are_refused_before_anything_is_spawned()
    {
        Assert.Throws<ArgumentException>(() => HelperProtocol.Serialize(Probe.Plan() with { Path = "relative" }));
        Assert.Throws<ArgumentException>(() => HelperProtocol.Serialize(Probe.Plan() with { Argv = ["a\0b"] }));
        Assert.Throws<ArgumentException>(() => HelperProtocol.Serialize(Probe.Plan() with { Capabilities = new CapabilitySets(1, 1, 1, 0, 1) }));
        Assert.Throws<ArgumentException>(() => HelperProtocol.Serialize(Probe.Plan() with { NetworkNamespacePath = "/run/netns/x", Namespaces = NamespaceFlags.Net }));
    }
}
