using Supervisor.Sandbox.Inspect;
using Supervisor.Sandbox.Seccomp;
using Supervisor.Sandbox.Tests.Support;

namespace Supervisor.Sandbox.Tests;

public class SeccompTests
{
    private const int Marker = 95; // EOPNOTSUPP: an errno swapoff would never give, so it can only be the filter

    private static IReadOnlySet<string> Group(string name) =>
        SyscallGroups.TryGet(name, out var m) ? m : throw new InvalidOperationException(name);

    private static byte[] SystemService(bool nativeOnly = true) => SeccompCompiler.Compile(new SyscallListPolicy(
        SyscallListMode.Allow,
        Group("@system-service").Where(SeccompCompiler.IsKnownOnThisArch).ToList(),
        SeccompAction.Errno(Marker),
        nativeOnly));

    [Fact]
    public void Allow_list_compiles_to_a_non_empty_bpf_program()
    {
        var bpf = SystemService();
        Assert.NotEmpty(bpf);
        Assert.Equal(0, bpf.Length % 8);
    }

    [Fact]
    public void Unknown_syscall_name_is_a_typed_error_naming_it()
    {
        var e = Assert.Throws<SeccompCompileException>(() =>
            SeccompCompiler.Compile(new SyscallListPolicy(SyscallListMode.Deny, ["read", "frobnicate"], SeccompAction.Errno(1))));
        Assert.Contains("'frobnicate'", e.Message);
        // A call that exists only on other architectures is also unknown here.
        Assert.Throws<SeccompCompileException>(() =>
            SeccompCompiler.Compile(new SyscallListPolicy(SyscallListMode.Deny, ["cacheflush"], SeccompAction.Errno(1))));
    }

    [Fact]
    public void Deny_list_and_allow_list_differ_and_errno_is_range_checked()
    {
        var deny = SeccompCompiler.Compile(new SyscallListPolicy(SyscallListMode.Deny, ["swapoff"], SeccompAction.Errno(1)));
        var allow = SeccompCompiler.Compile(new SyscallListPolicy(SyscallListMode.Allow, ["swapoff"], SeccompAction.Errno(1)));
        Assert.NotEqual(deny, allow);
        Assert.Throws<SeccompCompileException>(() => SeccompAction.Errno(5000));
    }

    [Fact]
    public void A_syscall_outside_the_allow_list_fails_with_the_declared_errno()
    {
        Host.RequireRoot();
        var plan = Probe.Plan("swapoff", "/nonexistent-sbx-swap");
        Assert.Equal("fail 2", Runner.Run(plan).Line); // reaches the kernel: ENOENT
        var filtered = plan with { SeccompBpf = [.. SystemService()], NoNewPrivileges = true };
        Assert.Equal($"fail {Marker}", Runner.Run(filtered).Line);
        // And a call inside the list still works.
        Assert.True(Runner.Run(filtered with { Argv = ["probe", "exists", "/"] }).Ok);

        using var run = new Runner.Running(filtered);
        var status = File.ReadAllText($"/proc/{run.ServicePid}/status");
        Assert.Contains("Seccomp:\t2", status);
        Assert.Contains("Seccomp_filters:\t1", status);
        Assert.Contains("NoNewPrivs:\t1", status);
        Assert.Equal(CheckResult.Match, IsolationCheck.Compare(filtered, IsolationState.Read(run.ServicePid)).Single(l => l.Property == "Seccomp").Result);
    }

    [Fact]
    public void Deny_list_blocks_only_the_listed_calls()
    {
        Host.RequireRoot();
        var bpf = SeccompCompiler.Compile(new SyscallListPolicy(SyscallListMode.Deny, [.. Group("@swap")], SeccompAction.Errno(Marker)));
        var plan = Probe.Plan("swapoff", "/nonexistent-sbx-swap") with { SeccompBpf = [.. bpf] };
        Assert.Equal($"fail {Marker}", Runner.Run(plan).Line);
        Assert.True(Runner.Run(plan with { Argv = ["probe", "exists", "/"] }).Ok);
    }

    [Fact]
    public void Kill_action_kills_the_process_with_SIGSYS()
    {
        Host.RequireRoot();
        var bpf = SeccompCompiler.Compile(new SyscallListPolicy(SyscallListMode.Deny, ["swapoff"], SeccompAction.KillProcess));
        var r = Runner.Run(Probe.Plan("swapoff", "/nonexistent-sbx-swap") with { SeccompBpf = [.. bpf] });
        Assert.Equal(31, r.Exit.Signal);
    }

    [Fact]
    public void Native_only_kills_an_i386_int_0x80_syscall()
    {
        Host.RequireRoot();
        var plan = Probe.Plan("int80");
        Assert.True(Runner.Run(plan).Ok, "int 0x80 works without a filter, so the test can fail");
        Assert.True(Runner.Run(plan with { SeccompBpf = [.. SystemService(nativeOnly: false)] }).Ok,
            "with i386 in the filter the same list allows i386 getpid");
        var r = Runner.Run(plan with { SeccompBpf = [.. SystemService(nativeOnly: true)] });
        Assert.Equal(31, r.Exit.Signal); // SIGSYS: the bad-arch action kills the process
    }

    [Fact]
    public void Logged_calls_still_run()
    {
        Host.RequireRoot();
        var allowed = Group("@system-service").Where(SeccompCompiler.IsKnownOnThisArch).ToList();
        var bpf = SeccompCompiler.Compile(new SyscallListPolicy(SyscallListMode.Allow, allowed, SeccompAction.Errno(Marker), true, ["access", "faccessat", "faccessat2"]));
        Assert.True(Runner.Run(Probe.Plan("exists", "/") with { SeccompBpf = [.. bpf] }).Ok);
    }
}
