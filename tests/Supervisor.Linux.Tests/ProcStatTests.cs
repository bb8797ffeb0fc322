using Supervisor.Linux.Proc;

namespace Supervisor.Linux.Tests;

public class ProcStatTests
{
    private const string Rest = " 528 528 22144 0 -1 4194304 99 0 0 0 0 0 0 0 20 0 1 0 1071882 3133440 381 18446744073709551615 94571619880960 0 0\n";

    [Fact]
    public void Reads_pid_name_state_parent_and_start_time()
    {
        var stat = ProcStat.Parse("532 (cat) R" + Rest);
        Assert.Equal(new ProcStat(532, "cat", 'R', 528, 1071882), stat);
    }

    [Theory]
    [InlineData("my service")]
    [InlineData("a) S 1 (b")]          // a name that looks like the fields that follow it
    [InlineData("(sd-pam)")]
    [InlineData(")")]
    public void A_command_name_with_spaces_and_parentheses_does_not_shift_the_fields(string comm)
    {
        var stat = ProcStat.Parse($"77 ({comm}) S{Rest}");
        Assert.Equal((77, comm, 'S', 528, 1071882UL), (stat.Pid, stat.Comm, stat.State, stat.ParentPid, stat.StartTime));
    }

    [Theory]
    [InlineData('Z', true, false)]
    [InlineData('X', true, false)]
    [InlineData('T', false, true)]
    [InlineData('t', false, true)]
    [InlineData('S', false, false)]
    [InlineData('D', false, false)]
    public void Says_whether_the_process_has_exited_or_is_stopped(char state, bool exited, bool stopped)
    {
        var stat = ProcStat.Parse($"9 (x) {state}{Rest}");
        Assert.Equal((exited, stopped), (stat.HasExited, stat.IsStopped));
    }

    [Theory]
    [InlineData("532 (cat) R 528 528 22144 0 -1", "/proc stat: only 8 fields; starttime is field 22")]
    [InlineData("532 cat R" + Rest, "/proc stat: no command name in parentheses in \"532 cat R 528 528 22144 0 -1 4194304 99 0 0 0 0 0 0 0 20 0 1…\"")]
    [InlineData("", "/proc stat: no command name in parentheses in \"\"")]
    [InlineData("x (cat) R" + Rest, "/proc stat: pid is \"x\", not a number")]
    [InlineData("5 (cat) RR" + Rest, "/proc stat: state is \"RR\", not one letter")]
    [InlineData("5 (cat) R" + " 528 528 22144 0 -1 4194304 99 0 0 0 0 0 0 0 20 0 1 0 later 3133440\n", "/proc stat: starttime is \"later\", not a number")]
    public void Missing_or_malformed_fields_are_a_format_error_that_says_which(string text, string message) =>
        Assert.Equal(message, Assert.Throws<FormatException>(() => ProcStat.Parse(text)).Message);

    [Fact]
    public void The_test_process_reads_as_itself()
    {
        var stat = ProcStat.Read(Environment.ProcessId);
        var status = ProcStatus.ReadSelf();
        Assert.Equal(Environment.ProcessId, stat.Pid);
        Assert.Equal(status.Name, stat.Comm);
        Assert.Equal(status.ParentPid, stat.ParentPid);
        // The process's state is its main thread's, which may sleep while a test thread runs.
        Assert.False(stat.HasExited || stat.IsStopped);
        Assert.True(stat.StartTime > 0);
        Assert.Equal(stat, ProcStat.TryRead(Environment.ProcessId)! with { State = stat.State });
    }

    [Fact]
    public void A_process_that_is_gone_reads_as_null()
    {
        // Past pid_max (at most 2^22): no process can have this pid.
        Assert.Null(ProcStat.TryRead(int.MaxValue));
        Assert.Null(ProcStatus.TryRead(int.MaxValue));
        Assert.ThrowsAny<IOException>(() => ProcStat.Read(int.MaxValue));
    }
}
