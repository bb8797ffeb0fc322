using System.Text;
using Supervisor.Sandbox.Compiler;
using Supervisor.Sandbox.Inspect;
using Supervisor.Sandbox.Tests.Support;
using Supervisor.Units;
using Supervisor.Units.Model;
using Supervisor.Units.Syntax;

namespace Supervisor.Sandbox.Tests;

/// <summary>
/// The kernel-surface directives against the real kernel: a unit file with the directive runs
/// the probe (probe/kernel_probe.c) through the helper, and the attempt the directive is meant to
/// stop fails with systemd's errno; the same unit without it lets the attempt through (or the
/// kernel refuses it for its own, different reason). Then inspect, read live from /proc.
/// </summary>
public class KernelSurfaceTests
{
    private static ExecPlan Compile(string sandbox, params string[] argv) => CompileProgram(KernelProbe.Path, sandbox, argv);

    private static ExecPlan CompileProgram(string program, string sandbox, params string[] argv)
    {
        string exec = string.Join(", ", new[] { program }.Concat(argv).Select(a => $"\"{a}\""));
        var text = $"[Service]\nExecStart = [{exec}]\n[Sandbox]\n{sandbox}\n";
        var diagnostics = new List<Diagnostic>();
        var doc = UnitFileReader.Parse(Encoding.UTF8.GetBytes(text), "probe.toml", "probe", diagnostics);
        var parsed = doc is null ? null : UnitParser.Parse("probe", UnitKind.Service, [doc], diagnostics);
        Assert.True(parsed is not null, string.Join("\n", diagnostics));
        return ExecPlanCompiler.Compile(parsed!.Definition, CompileContext.ForHost());
    }

    private static string Outcome(Runner.Result r) => r.Exit.Signal is { } sig ? $"signal {sig}" : r.Line;

    /// <summary>
    /// setting, attempt, result with it, result without it, and what the unit without it still
    /// needs (an own uts namespace, so a working sethostname renames nothing of the host's).
    /// "!fail 1" means anything but EPERM (the kernel's own answer differs between hosts).
    /// </summary>
    public static TheoryData<string, string[], string, string, string> Attempts => new()
    {
        { "RestrictNamespaces = true", ["unshare", "user"], "fail 1", "ok", "" },
        { "RestrictNamespaces = true", ["clone3"], "fail 38", "fail 22", "" },
        { "LockPersonality = true", ["personality", "0x0400000"], "fail 1", "ok", "" },
        { "MemoryDenyWriteExecute = true", ["mmap-wx"], "fail 1", "ok", "" },
        { "MemoryDenyWriteExecute = true", ["mprotect-x"], "fail 1", "ok", "" },
        { "RestrictRealtime = true", ["sched-fifo"], "fail 1", "fail 22", "" },
        { "RestrictRealtime = true", ["sched-setattr"], "fail 1", "fail 22", "" },
        { "RestrictSUIDSGID = true", ["chmod-suid", "$DIR"], "fail 1", "ok", "" },
        { "RestrictSUIDSGID = true", ["open-sgid", "$DIR"], "fail 1", "ok", "" },
        { "RestrictAddressFamilies = [\"AF_UNIX\", \"AF_INET\"]", ["socket", "packet"], "fail 97", "ok", "" },
        { "RestrictAddressFamilies = [\"AF_UNIX\", \"AF_INET\"]", ["socket", "inet"], "ok", "ok", "" },
        { "ProtectKernelModules = true", ["delete-module"], "fail 1", "!fail 1", "" },
        { "ProtectKernelLogs = true", ["syslog"], "fail 1", "ok", "" },
        { "ProtectKernelLogs = true", ["chardev", "/dev/kmsg"], "fail 19", "ok", "" },
        { "ProtectClock = true", ["clock-settime"], "fail 1", "fail 22", "" },
        { "ProtectClock = true", ["adjtimex"], "fail 1", "fail 22", "" },
        { "ProtectHostname = true", ["sethostname", "sbx-probe"], "fail 1", "ok", "Namespaces = [\"uts\"]" },
        { "ProcSubset = \"pid\"", ["exists", "/proc/meminfo"], "fail 2", "ok", "" },
        // systemd's PrivateDevices: no CAP_MKNOD, no CAP_SYS_RAWIO, @raw-io refused.
        { "PrivateDevices = true", ["mknod", "$DIR/node"], "fail 1", "ok", "" },
        { "PrivateDevices = true", ["iopl"], "fail 1", "!fail 1", "" }, // ENOSYS without the filter where the kernel has no iopl
    };

    [Theory]
    [MemberData(nameof(Attempts))]
    public void Each_directive_stops_its_attempt_and_the_same_unit_without_it_does_not(string setting, string[] attempt, string blocked, string unblocked, string bare)
    {
        Host.RequireRoot();
        using var dir = new TempDir("/run");
        var argv = attempt.Select(a => a.Replace("$DIR", dir.Path)).ToArray();
        Assert.Equal(blocked, Outcome(Runner.Run(Compile(setting, argv))));
        var without = Outcome(Runner.Run(Compile(bare, argv)));
        if (unblocked.StartsWith('!'))
            Assert.NotEqual(unblocked[1..], without);
        else
            Assert.Equal(unblocked, without);
    }

    /// <summary>
    /// The hostile probe of issue 16: @system-service lets each of these through to the kernel, which
    /// answers (here: ok), and @system-service-strict stops it with the unit's errno. EDOM is an
    /// answer none of these calls gives on its own, so "fail 33" can only be the filter.
    /// </summary>
    [Theory]
    [InlineData("keyctl")]
    [InlineData("io_uring_setup")]
    [InlineData("userfaultfd")]
    [InlineData("kcmp")]
    [InlineData("process_vm_readv")]
    public void The_strict_service_set_refuses_what_system_service_lets_through(string call)
    {
        Host.RequireRoot();
        const string Errno = "\nSystemCallErrorNumber = \"EDOM\"";
        var loose = Outcome(Runner.Run(Compile("SystemCallFilter = [\"@system-service\"]" + Errno, "strict", call)));
        var strict = Outcome(Runner.Run(Compile("SystemCallFilter = [\"@system-service-strict\"]" + Errno, "strict", call)));
        Assert.Equal("fail 33", strict);
        Assert.NotEqual("fail 33", loose);
        const string IoUringDisabled = "/proc/sys/kernel/io_uring_disabled";
        if (call != "io_uring_setup" || !File.Exists(IoUringDisabled) || File.ReadAllText(IoUringDisabled).Trim() == "0")
            Assert.Equal("ok", loose);
    }

    [Fact]
    public void RestrictNamespaces_with_a_list_allows_exactly_the_listed_types()
    {
        Host.RequireRoot();
        Assert.Equal("ok", Outcome(Runner.Run(Compile("RestrictNamespaces = [\"user\"]", "unshare", "user"))));
        Assert.Equal("fail 1", Outcome(Runner.Run(Compile("RestrictNamespaces = [\"user\"]", "unshare", "net"))));
        Assert.Equal("fail 1", Outcome(Runner.Run(Compile("RestrictNamespaces = [\"~user\"]", "unshare", "user"))));
        Assert.Equal("ok", Outcome(Runner.Run(Compile("RestrictNamespaces = [\"~user\"]", "unshare", "ipc"))));
    }

    [Fact]
    public void LockPersonality_still_answers_the_query()
    {
        Host.RequireRoot();
        Assert.Equal("ok", Outcome(Runner.Run(Compile("LockPersonality = true", "personality", "0xffffffff"))));
        Assert.Equal("ok", Outcome(Runner.Run(Compile("LockPersonality = true", "personality", "0"))));
    }

    [Fact]
    public void ProtectKernelModules_hides_the_module_directories()
    {
        Host.RequireRoot();
        using var root = new TempDir("/run");
        Directory.CreateDirectory(root.Combine("bin"));
        Directory.CreateDirectory(root.Combine("usr", "lib", "modules", "6.1.0-test"));
        File.Copy(KernelProbe.Path, root.Combine("bin", "kernel_probe"));
        File.SetUnixFileMode(root.Combine("bin", "kernel_probe"), (UnixFileMode)0x1ED);
        ExecPlan Plan(string extra) => CompileProgram("/bin/kernel_probe", $"RootDirectory = \"{root.Path}\"\n{extra}", "exists", "/usr/lib/modules/6.1.0-test");
        Assert.Equal("ok", Outcome(Runner.Run(Plan(""))));
        Assert.Equal("fail 2", Outcome(Runner.Run(Plan("ProtectKernelModules = true"))));
    }

    [Fact]
    public void ProtectClock_hides_the_rtc_device_nodes()
    {
        Host.RequireRoot();
        // This host may have no RTC: make a node named like one (the null device's numbers), for this test only.
        var node = $"/dev/rtc{Random.Shared.Next(900, 999)}";
        Assert.False(File.Exists(node), $"{node} exists already");
        Host.Run("mknod", "-m", "0600", node, "c", "1", "3");
        try
        {
            Assert.Equal("ok", Outcome(Runner.Run(Compile("", "chardev", node))));
            Assert.Equal("fail 19", Outcome(Runner.Run(Compile("ProtectClock = true", "chardev", node))));
            // A private /dev has no RTC to hide.
            Assert.Equal("fail 2", Outcome(Runner.Run(Compile("ProtectClock = true\nPrivateDevices = true", "chardev", node))));
        }
        finally
        {
            File.Delete(node);
        }
    }

    private const string All = """
        RestrictNamespaces = ["net"]
        LockPersonality = true
        MemoryDenyWriteExecute = true
        RestrictRealtime = true
        RestrictSUIDSGID = true
        RestrictAddressFamilies = ["AF_UNIX", "AF_INET"]
        ProtectKernelModules = true
        ProtectKernelLogs = true
        ProtectClock = true
        ProtectHostname = true
        ProcSubset = "pid"
        """;

    [Fact]
    public void Inspect_shows_each_directive_in_force_from_proc()
    {
        Host.RequireRoot();
        var plan = Compile(All, "sleep");
        using var run = new Runner.Running(plan);
        var state = IsolationState.Read(run.ServicePid);
        var lines = IsolationCheck.Compare(plan, state);
        Assert.DoesNotContain(lines, l => l.Result == CheckResult.Mismatch);
        foreach (var directive in new[] { "RestrictNamespaces", "LockPersonality", "MemoryDenyWriteExecute", "RestrictRealtime", "RestrictSUIDSGID",
            "RestrictAddressFamilies", "ProtectKernelModules", "ProtectKernelLogs", "ProtectClock", "ProtectHostname", "ProcSubset" })
            Assert.Equal(CheckResult.Match, lines.Single(l => l.Property == directive).Result);
        Assert.Contains("CapBnd without CAP_SYS_MODULE", lines.Single(l => l.Property == "ProtectKernelModules").Found);
        Assert.Contains("CapBnd without CAP_SYS_TIME,CAP_WAKE_ALARM", lines.Single(l => l.Property == "ProtectClock").Found);
        Assert.Contains("own uts namespace", lines.Single(l => l.Property == "ProtectHostname").Found);
        Assert.Contains("subset=pid", lines.Single(l => l.Property == "ProcSubset").Found);
        Assert.Contains("/dev/kmsg covered", lines.Single(l => l.Property == "ProtectKernelLogs").Found);
        Assert.Equal(1, state.SeccompFilters); // one filter: SystemCallFilter's and the directives' together
    }

    [Fact]
    public void Inspect_reports_a_process_without_the_directives_as_drift()
    {
        Host.RequireRoot();
        var declared = Compile(All, "sleep");
        using var run = new Runner.Running(Compile("", "sleep"));
        var lines = IsolationCheck.Compare(declared, IsolationState.Read(run.ServicePid));
        var kernel = lines.Where(l => declared.KernelProtections.Any(p => p.Directive == l.Property)).ToList();
        Assert.Equal(11, kernel.Count);
        Assert.All(kernel, l => Assert.Equal(CheckResult.Mismatch, l.Result));
        Assert.Contains("CapBnd has CAP_SYS_MODULE", kernel.Single(l => l.Property == "ProtectKernelModules").Found);
        Assert.Contains("seccomp mode 0", kernel.Single(l => l.Property == "LockPersonality").Found);
        Assert.Contains("host uts namespace", kernel.Single(l => l.Property == "ProtectHostname").Found);
    }
}
