using Supervisor.Linux.Native;
using Supervisor.Linux.Proc;

namespace Supervisor.Linux.Tests;

public class ProcStatusTests
{
    // /proc/PID/status of a sandboxed service on Linux 6.x (lines it does not read kept, as the kernel writes them).
    private const string Sandboxed = """
        Name:	my (odd) svc
        Umask:	0022
        State:	S (sleeping)
        Tgid:	4242
        Ngid:	0
        Pid:	4242
        PPid:	4240
        TracerPid:	0
        Uid:	1000	1001	1002	1003
        Gid:	2000	2001	2002	2003
        FDSize:	64
        Groups:	27 100 
        NStgid:	4242	1
        NSpid:	4242	1
        VmRSS:	    1776 kB
        CapInh:	0000000000000000
        CapPrm:	0000000000000400
        CapEff:	0000000000000400
        CapBnd:	0000000000003400
        CapAmb:	0000000000000400
        NoNewPrivs:	1
        Seccomp:	2
        Seccomp_filters:	3
        Speculation_Store_Bypass:	vulnerable
        Cpus_allowed_list:	0-1

        """;

    [Fact]
    public void Reads_identity_capabilities_no_new_privs_seccomp_and_namespace_pids()
    {
        var s = ProcStatus.Parse(Sandboxed);
        Assert.Equal("my (odd) svc", s.Name);
        Assert.Equal('S', s.State);
        Assert.Equal((4242, 4240), (s.Pid, s.ParentPid));
        Assert.Equal(new ProcIds(1000, 1001, 1002, 1003), s.Uid);
        Assert.Equal(new ProcIds(2000, 2001, 2002, 2003), s.Gid);
        Assert.Equal(new uint[] { 27, 100 }, s.Groups);
        Assert.Equal(new[] { 4242, 1 }, s.NSpid);
        Assert.Equal((0UL, 0x400UL, 0x400UL, 0x3400UL, 0x400UL), (s.CapInh, s.CapPrm, s.CapEff, s.CapBnd, s.CapAmb));
        Assert.Equal((true, 2, 3), (s.NoNewPrivs, s.Seccomp, s.SeccompFilters));
    }

    [Fact]
    public void Fields_an_older_kernel_does_not_have_are_null_not_zero()
    {
        // Linux 4.0: no NSpid (4.1), CapAmb (4.3), NoNewPrivs (4.10), Seccomp_filters (5.9).
        var s = ProcStatus.Parse("Name:\told\nPid:\t7\nUid:\t0\t0\t0\t0\nCapEff:\t0000003fffffffff\nSeccomp:\t0\n");
        Assert.Equal(0x3fffffffffUL, s.CapEff);
        Assert.Equal(0, s.Seccomp);
        Assert.Null(s.CapAmb);
        Assert.Null(s.NoNewPrivs);
        Assert.Null(s.SeccompFilters);
        Assert.Empty(s.NSpid);
        Assert.Null(s.Gid);
        Assert.Empty(s.Groups);
    }

    [Fact]
    public void An_empty_group_list_is_empty() => Assert.Empty(ProcStatus.Parse("Groups:\t \n").Groups);

    [Theory]
    [InlineData("CapEff:\t00000000zz000400\n", "/proc status: CapEff is \"00000000zz000400\", expected a hex mask")]
    [InlineData("Uid:\t1000\t1000\n", "/proc status: Uid is \"1000\t1000\", expected four ids")]
    [InlineData("Gid:\t1\t2\t3\t-4\n", "/proc status: Gid is \"-4\", expected an id")]
    [InlineData("Seccomp:\tfilter\n", "/proc status: Seccomp is \"filter\", not a number")]
    [InlineData("State:\t\n", "/proc status: State is \"\", expected a state letter")]
    public void A_malformed_field_is_a_format_error_that_names_it(string text, string message) =>
        Assert.Equal(message, Assert.Throws<FormatException>(() => ProcStatus.Parse(text)).Message);

    [Fact]
    public void The_test_process_reads_as_itself()
    {
        var s = ProcStatus.ReadSelf();
        Assert.Equal(Environment.ProcessId, s.Pid);
        Assert.Equal(Libc.GetEuid(), s.Uid?.Effective);
        Assert.Contains(s.State!.Value, "RSD"); // the main thread's state: running, or waiting while a test thread runs
        // Every kernel this runs on has these (CapAmb since 4.3, NSpid since 4.1).
        Assert.NotNull(s.CapBnd);
        Assert.NotNull(s.CapAmb);
        Assert.Equal(s.Pid, s.NSpid[0]);
        var again = ProcStatus.Read(Environment.ProcessId);
        Assert.Equal((s.Name, s.Uid, s.Gid, s.CapEff, s.Seccomp), (again.Name, again.Uid, again.Gid, again.CapEff, again.Seccomp));
    }
}
