using System.Text;
using Supervisor.Sandbox.Capabilities;
using Supervisor.Sandbox.Compiler;
using Supervisor.Linux.Native;
using Supervisor.Sandbox.Seccomp;
using Supervisor.Sandbox.Tests.Support;
using Supervisor.Units;
using Supervisor.Units.Model;
using Supervisor.Units.Syntax;

namespace Supervisor.Sandbox.Tests;

/// <summary>
/// The seccomp half of the kernel-surface directives, read straight from the compiled program
/// (SeccompEvaluator runs it as the kernel would): each directive's forbidden calls get its
/// errno, everything else keeps what the rest of the filter says, whether that is no list, an
/// allow list or a deny list, on the native ABI and on i386. No process, no root.
/// </summary>
public class KernelSeccompTests
{
    private const uint Allow = 0x7fff0000, KillProcess = 0x80000000, Notify = 0x7fc00000;
    private static uint Errno(int e) => 0x00050000u | (uint)e;
    private const int EPERM = 1, EACCES = 13, ENOSYS = 38, EAFNOSUPPORT = 97;

    private static readonly uint Native = Libseccomp.NativeArch();

    internal static UnitDefinition Unit(string sandbox, string service = "")
    {
        var text = $"[Service]\nExecStart = [\"/bin/sh\", \"-c\", \"true\"]\n{service}\n[Sandbox]\n{sandbox}\n";
        var diagnostics = new List<Diagnostic>();
        var doc = UnitFileReader.Parse(Encoding.UTF8.GetBytes(text), "web.toml", "web", diagnostics);
        var parsed = doc is null ? null : UnitParser.Parse("web", UnitKind.Service, [doc], diagnostics);
        Assert.True(parsed is not null, string.Join("\n", diagnostics));
        return parsed!.Definition;
    }

    internal static CompileContext Ctx() => new()
    {
        Host = new HostFacts(40, CapabilityTable.HostMask(40), false, false),
        Users = UserDatabase.Parse("root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", "root:x:0:\nnogroup:x:65534:\n"),
    };

    internal static ExecPlan Plan(string sandbox, string service = "") => ExecPlanCompiler.Compile(Unit(sandbox, service), Ctx());

    /// <summary>What the plan's filter answers for CALL(ARGS) on ABI ARCH; no filter allows everything.</summary>
    internal static uint Answer(ExecPlan plan, string call, ulong[] args, uint? arch = null)
    {
        uint abi = arch ?? Native;
        int nr = Libseccomp.SyscallResolveNameArch(abi, call);
        Assert.True(nr >= 0, $"{call} has no number on ABI 0x{abi:x8}");
        return plan.SeccompBpf.IsDefaultOrEmpty ? Allow : SeccompEvaluator.Run(plan.SeccompBpf.AsSpan(), SeccompEvaluator.DataArch(abi), nr, args);
    }

    /// <summary>The rest of the filter the directives are merged into: nothing, allow lists (kill or an errno), a deny list.</summary>
    public static TheoryData<string> Modes => new()
    {
        "",
        "SystemCallFilter = [\"@system-service\"]",
        "SystemCallFilter = [\"@system-service\"]\nSystemCallErrorNumber = \"EACCES\"",
        "SystemCallFilter = [\"~@obsolete @clock\"]",
        "SystemCallFilter = [\"@system-service\"]\nSystemCallLog = [\"personality\", \"socket\"]",
    };

    private const ulong CloneNewUser = 0x10000000, CloneNewNet = 0x40000000, CloneNewPid = 0x20000000, CloneFiles = 0x400, Sigchld = 17;
    private const ulong High = 1UL << 32; // garbage in the upper half of a 32-bit argument's register

    /// <summary>directive, call, arguments, errno when the directive refuses it (0: it does not).</summary>
    public static readonly (string Directive, string Call, ulong[] Args, int Errno)[] Cases =
    [
        ("RestrictNamespaces = true", "unshare", [CloneNewUser], EPERM),
        ("RestrictNamespaces = true", "unshare", [CloneFiles], 0),
        ("RestrictNamespaces = true", "unshare", [0], 0),
        ("RestrictNamespaces = true", "clone", [Sigchld], 0),
        ("RestrictNamespaces = true", "clone", [CloneNewNet | Sigchld], EPERM),
        ("RestrictNamespaces = true", "setns", [3, 0], EPERM),
        ("RestrictNamespaces = true", "setns", [3, CloneNewNet], EPERM),
        ("RestrictNamespaces = true", "clone3", [0, 88], ENOSYS),
        ("RestrictNamespaces = [\"net\"]", "unshare", [CloneNewNet], 0),
        ("RestrictNamespaces = [\"net\"]", "unshare", [CloneNewUser], EPERM),
        ("RestrictNamespaces = [\"net\"]", "unshare", [CloneNewNet | CloneNewUser], EPERM),
        ("RestrictNamespaces = [\"net\"]", "setns", [3, CloneNewNet], 0),
        ("RestrictNamespaces = [\"net\"]", "setns", [3, 0], EPERM),
        ("RestrictNamespaces = [\"net\"]", "setns", [3, High], EPERM),
        ("RestrictNamespaces = [\"net\"]", "setns", [3, CloneNewNet | CloneNewUser], EPERM),
        ("RestrictNamespaces = [\"~user\"]", "unshare", [CloneNewUser], EPERM),
        ("RestrictNamespaces = [\"~user\"]", "unshare", [CloneNewNet | CloneNewPid], 0),
        ("RestrictNamespaces = \"~user mnt\"", "unshare", [0x00020000], EPERM),
        ("LockPersonality = true", "personality", [0], 0),
        ("LockPersonality = true", "personality", [0xffffffff], 0),
        ("LockPersonality = true", "personality", [0x0400000], EPERM), // READ_IMPLIES_EXEC
        ("LockPersonality = true", "personality", [8], EPERM),         // PER_LINUX32
        ("LockPersonality = \"yes\"", "personality", [High | 0x0400000], EPERM),
        ("MemoryDenyWriteExecute = true", "mmap", [0, 4096, 3, 0x22], 0),
        ("MemoryDenyWriteExecute = true", "mmap", [0, 4096, 5, 0x22], 0),
        ("MemoryDenyWriteExecute = true", "mmap", [0, 4096, 7, 0x22], EPERM),
        ("MemoryDenyWriteExecute = true", "mprotect", [0, 4096, 4], EPERM),
        ("MemoryDenyWriteExecute = true", "mprotect", [0, 4096, 1], 0),
        ("MemoryDenyWriteExecute = true", "pkey_mprotect", [0, 4096, 5, 0], EPERM),
        ("MemoryDenyWriteExecute = true", "shmat", [1, 0, 0x8000], EPERM),
        ("MemoryDenyWriteExecute = true", "shmat", [1, 0, 0], 0),
        ("RestrictRealtime = true", "sched_setscheduler", [0, 1, 0], EPERM),
        ("RestrictRealtime = true", "sched_setscheduler", [0, 2, 0], EPERM),
        ("RestrictRealtime = true", "sched_setscheduler", [0, 6, 0], EPERM),
        ("RestrictRealtime = true", "sched_setscheduler", [0, 0x40000001, 0], EPERM),
        ("RestrictRealtime = true", "sched_setscheduler", [0, High | 1, 0], EPERM),
        ("RestrictRealtime = true", "sched_setscheduler", [0, 0, 0], 0),
        ("RestrictRealtime = true", "sched_setscheduler", [0, 3, 0], 0),
        ("RestrictRealtime = true", "sched_setscheduler", [0, 5, 0], 0),
        ("RestrictRealtime = true", "sched_setattr", [0, 0, 0], EPERM),
        ("RestrictSUIDSGID = true", "chmod", [0, 0x9ed], EPERM),   // 04755
        ("RestrictSUIDSGID = true", "chmod", [0, 0x5ed], EPERM),   // 02755
        ("RestrictSUIDSGID = true", "chmod", [0, 0x1ed], 0),       // 0755
        ("RestrictSUIDSGID = true", "fchmodat", [3, 0, 0x9ed], EPERM),
        ("RestrictSUIDSGID = true", "fchmodat2", [3, 0, 0x5ed, 0], EPERM),
        ("RestrictSUIDSGID = true", "openat", [3, 0, 0x41, 0x9ed], EPERM),    // O_CREAT|O_WRONLY
        ("RestrictSUIDSGID = true", "openat", [3, 0, 0x01, 0x9ed], 0),        // no O_CREAT: mode unused
        ("RestrictSUIDSGID = true", "openat", [3, 0, 0x41, 0x1a4], 0),        // 0644
        ("RestrictSUIDSGID = true", "open", [0, 0x410002, 0x5ed], EPERM),     // O_TMPFILE|O_RDWR
        ("RestrictSUIDSGID = true", "mknod", [0, 0x89ed, 0], EPERM),          // S_IFREG|04755
        ("RestrictSUIDSGID = true", "mkdir", [0, 0x5ed], EPERM),
        ("RestrictSUIDSGID = true", "creat", [0, 0x9ed], EPERM),
        ("RestrictSUIDSGID = true", "openat2", [3, 0, 0, 24], ENOSYS),
        ("RestrictAddressFamilies = [\"AF_UNIX\", \"AF_INET\"]", "socket", [1, 1, 0], 0),
        ("RestrictAddressFamilies = [\"AF_UNIX\", \"AF_INET\"]", "socket", [2, 2, 0], 0),
        ("RestrictAddressFamilies = [\"AF_UNIX\", \"AF_INET\"]", "socket", [17, 3, 0], EAFNOSUPPORT),
        ("RestrictAddressFamilies = [\"AF_UNIX\", \"AF_INET\"]", "socket", [10, 1, 0], EAFNOSUPPORT),
        ("RestrictAddressFamilies = [\"AF_UNIX\", \"AF_INET\"]", "socket", [High | 1, 1, 0], EAFNOSUPPORT),
        ("RestrictAddressFamilies = [\"AF_UNIX\", \"AF_INET\"]", "socket", [100, 1, 0], EAFNOSUPPORT),
        ("RestrictAddressFamilies = [\"~AF_PACKET\"]", "socket", [17, 3, 0], EAFNOSUPPORT),
        ("RestrictAddressFamilies = [\"~AF_PACKET\"]", "socket", [High | 17, 3, 0], EAFNOSUPPORT),
        ("RestrictAddressFamilies = [\"~AF_PACKET\"]", "socket", [10, 1, 0], 0),
        ("RestrictAddressFamilies = \"none\"", "socket", [1, 1, 0], EAFNOSUPPORT),
        ("ProtectKernelModules = true", "init_module", [0, 0, 0], EPERM),
        ("ProtectKernelModules = true", "finit_module", [3, 0, 0], EPERM),
        ("ProtectKernelModules = true", "delete_module", [0, 0], EPERM),
        ("ProtectKernelLogs = true", "syslog", [10, 0, 0], EPERM),
        ("ProtectClock = true", "clock_settime", [0, 0], EPERM),
        ("ProtectClock = true", "settimeofday", [0, 0], EPERM),
        ("ProtectClock = true", "adjtimex", [0], EPERM),
        ("ProtectClock = true", "clock_adjtime", [0, 0], EPERM),
        ("ProtectClock = true", "clock_gettime", [0, 0], 0),
        ("ProtectHostname = true", "sethostname", [0, 4], EPERM),
        ("ProtectHostname = true", "setdomainname", [0, 4], EPERM),
        ("ProtectHostname = true", "uname", [0], 0),
    ];

    [Theory]
    [MemberData(nameof(Modes))]
    public void Each_directive_refuses_its_calls_and_leaves_the_rest_to_the_filter(string mode)
    {
        var failures = new List<string>();
        foreach (var group in Cases.GroupBy(c => c.Directive))
        {
            var without = Plan(mode);
            var with = Plan(mode + "\n" + group.Key);
            foreach (var (_, call, args, errno) in group)
            {
                uint before = Answer(without, call, args);
                // The stricter answer wins, as with systemd's separate filters: a call the rest
                // of the filter refuses or kills stays that way.
                // SystemCallFilter's reported set (USER_NOTIF) is a refusal the supervisor answers.
                bool permissive = SeccompMerge.IsPermissive(new SeccompAction(before)) && before != Notify;
                uint expected = errno != 0 && permissive ? Errno(errno) : before;
                uint got = Answer(with, call, args);
                if (got != expected)
                    failures.Add($"{group.Key}: {call}({string.Join(", ", args.Select(a => $"0x{a:x}"))}) answered {new SeccompAction(got)}, expected {new SeccompAction(expected)}");
            }
        }
        Assert.Empty(failures);
    }

    [Fact]
    public void The_rest_of_the_filter_keeps_its_own_answer_for_calls_it_already_refuses()
    {
        // An allow list without sethostname reports it to the supervisor, which kills the caller;
        // ProtectHostname's EPERM does not soften that.
        var plan = Plan("SystemCallFilter = [\"@system-service\"]\nProtectHostname = true");
        Assert.Equal(Notify, Answer(plan, "sethostname", [0, 4]));
        Assert.Equal(SeccompAnswer.Kill, plan.SeccompNotify);
        // And the errno of an explicit SystemCallErrorNumber stays the answer for calls outside the list.
        var errno = Plan("SystemCallFilter = [\"@system-service\"]\nSystemCallErrorNumber = \"EACCES\"\nProtectClock = true");
        Assert.Equal(Notify, Answer(errno, "clock_settime", [0, 0]));
        Assert.Equal(new SeccompAnswer(SeccompAnswerKind.Errno, EACCES), errno.SeccompNotify);
        // The calls the helper makes after loading the filter are answered by the kernel itself.
        var deny = Plan("SystemCallFilter = [\"~execve keyctl\"]\nSystemCallErrorNumber = \"EACCES\"");
        Assert.Equal(Errno(EACCES), Answer(deny, "execve", [0, 0, 0]));
        Assert.Equal(Notify, Answer(deny, "keyctl", [0]));
        Assert.Equal(Allow, Answer(deny, "getpid", []));
        // A logged call keeps being logged where the directive allows it.
        var logged = Plan("SystemCallFilter = [\"@system-service\"]\nSystemCallLog = [\"personality\"]\nLockPersonality = true");
        Assert.Equal(0x7ffc0000u, Answer(logged, "personality", [0]));
        Assert.Equal(Errno(EPERM), Answer(logged, "personality", [8]));
    }

    private const string Everything = """
        RestrictNamespaces = ["net"]
        LockPersonality = true
        MemoryDenyWriteExecute = true
        RestrictRealtime = true
        RestrictSUIDSGID = true
        RestrictAddressFamilies = ["AF_UNIX", "AF_INET", "AF_INET6"]
        ProtectKernelModules = true
        ProtectKernelLogs = true
        ProtectClock = true
        ProtectHostname = true
        """;

    [Theory]
    [MemberData(nameof(Modes))]
    public void All_directives_together_make_one_filter(string mode)
    {
        var plan = Plan(mode + "\n" + Everything);
        Assert.NotEmpty(plan.SeccompBpf);
        Assert.Equal(Errno(EPERM), Answer(plan, "personality", [0x0400000]));
        Assert.Equal(Errno(EAFNOSUPPORT), Answer(plan, "socket", [17, 3, 0]));
        Assert.True(SeccompMerge.IsPermissive(new SeccompAction(Answer(plan, "socket", [10, 1, 0]))), "AF_INET6 is allowed (or logged)");
        Assert.True(plan.NoNewPrivileges || (plan.Capabilities!.Effective & (1UL << 21)) != 0,
            "a filter needs no_new_privs unless the service keeps CAP_SYS_ADMIN");
    }

    [Theory]
    [InlineData("")]
    [InlineData("SystemCallFilter = [\"@system-service\"]")]
    public void On_i386_the_multiplexed_calls_are_refused_whole_and_the_rest_filtered_by_argument(string mode)
    {
        var without = Plan(mode);
        var plan = Plan(mode + "\nMemoryDenyWriteExecute = true\nRestrictAddressFamilies = [\"AF_UNIX\"]\nLockPersonality = true");
        uint x86 = Libseccomp.ArchX86;
        // As on the native ABI: the directive's errno where the rest of the filter allows the call,
        // and its own answer where it does not (an allow list has no i386-only calls such as mmap2).
        uint Expected(uint before, int errno) => SeccompMerge.IsPermissive(new SeccompAction(before)) && before != Notify ? Errno(errno) : before;
        void Refused(string call, ulong[] args, int errno) =>
            Assert.Equal(Expected(Answer(without, call, args, x86), errno), Answer(plan, call, args, x86));
        const int i386Socket = 359; // libseccomp names i386's socket() by its socketcall() form
        uint socketBefore = without.SeccompBpf.IsDefaultOrEmpty ? Allow : SeccompEvaluator.Run(without.SeccompBpf.AsSpan(), x86, i386Socket, [1, 1, 0]);
        Assert.Equal(Expected(socketBefore, EAFNOSUPPORT), SeccompEvaluator.Run(plan.SeccompBpf.AsSpan(), x86, i386Socket, [1, 1, 0])); // even AF_UNIX
        Refused("socketcall", [1, 0], EAFNOSUPPORT);   // socketcall(SYS_SOCKET, args in memory)
        Refused("mmap", [0], EPERM);                   // old_mmap takes a struct pointer
        Refused("mmap2", [0, 4096, 7, 0x22], EPERM);
        Refused("ipc", [0x20015, 1, 0x8000], EPERM);  // SHMAT with a version in the call number
        Refused("personality", [8], EPERM);
        Assert.Equal(Answer(without, "socketcall", [3, 0], x86), Answer(plan, "socketcall", [3, 0], x86)); // SYS_CONNECT: not a new socket
        Assert.Equal(Answer(without, "mmap2", [0, 4096, 3, 0x22], x86), Answer(plan, "mmap2", [0, 4096, 3, 0x22], x86));
        Assert.Equal(Answer(without, "personality", [0xffffffff], x86), Answer(plan, "personality", [0xffffffff], x86));
        if (mode.Length == 0)
            Assert.Equal(Errno(EAFNOSUPPORT), Answer(plan, "socketcall", [1, 0], x86));
        // SystemCallArchitectures = ["native"] leaves i386 out: its calls meet the bad-arch action.
        var native = Plan("MemoryDenyWriteExecute = true\nSystemCallArchitectures = [\"native\"]");
        Assert.Equal(KillProcess, Answer(native, "mmap2", [0, 4096, 3, 0x22], x86));
    }

    [Fact]
    public void A_profile_that_filters_the_same_call_by_argument_is_refused_naming_both()
    {
        var profile = Path.Combine(Host.RepoRoot(), "contrib", "seccomp", "default.json");
        var plain = Plan($"SeccompProfile = \"{profile}\"\nProtectClock = true");
        Assert.Equal(Errno(EPERM), Answer(plain, "clock_settime", [0, 0]));
        var e = Assert.Throws<PlanCompileException>(() => Plan($"SeccompProfile = \"{profile}\"\nLockPersonality = true"));
        Assert.Equal("LockPersonality", e.Key);
        Assert.Contains($"SeccompProfile '{profile}' already filters 'personality' by its arguments, and LockPersonality filters it too", e.Message);
    }

    [Fact]
    public void Directives_without_a_seccomp_part_add_no_filter()
    {
        Assert.Empty(Plan("ProcSubset = \"pid\"").SeccompBpf);
        Assert.Empty(Plan("RestrictNamespaces = false\nLockPersonality = \"no\"").SeccompBpf);
        // Every type allowed: systemd installs nothing for RestrictNamespaces either.
        var all = Plan("RestrictNamespaces = [\"cgroup\", \"ipc\", \"net\", \"mnt\", \"pid\", \"user\", \"uts\"]");
        Assert.Equal(Allow, Answer(all, "unshare", [CloneNewUser]));
        Assert.Equal(Allow, Answer(all, "clone3", [0, 88]));
    }

    [Fact]
    public void The_evaluator_reads_a_filter_as_the_kernel_does()
    {
        var bpf = SeccompCompiler.Compile(new SyscallListPolicy(SyscallListMode.Deny, ["swapoff"], SeccompAction.Errno(5)));
        int swapoff = SeccompCompiler.Resolve("swapoff")!.Value, read = SeccompCompiler.Resolve("read")!.Value;
        Assert.Equal(Errno(5), SeccompEvaluator.Run(bpf, Native, swapoff, []));
        Assert.Equal(Allow, SeccompEvaluator.Run(bpf, Native, read, []));
        Assert.Equal(KillProcess, SeccompEvaluator.Run(bpf, 0x12345678, read, [])); // an ABI the filter does not list
    }
}
