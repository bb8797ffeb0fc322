using Supervisor.Runtime.Output;

namespace Supervisor.Runtime.Tests;

/// <summary>Per-connection instances of an Accept=yes socket leave a log each: only the newest are kept.</summary>
public sealed class FinishedInstanceLogsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("supervisor-instance-logs-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Log(string unit, string suffix = "")
    {
        var path = Path.Combine(_dir, unit + ".log" + suffix);
        File.WriteAllText(path, "2026-12-03T13:00:00.000Z stdout: hello\n");
        return path;
    }

    private static string Instance(int n) => $"sshd@{n}-127.0.0.1:22-127.0.0.1:{40000 + n}";

    [Fact]
    public void The_newest_instances_logs_stay_and_older_ones_go_with_their_rotated_files()
    {
        var logs = new FinishedInstanceLogs(_dir);
        var oldest = Log(Instance(0));
        var oldestRotated = Log(Instance(0), ".1");
        // A file that only starts with the oldest's name is another unit's: it stays.
        var lookalike = Log(Instance(0), ".1.bak");
        var other = Log("web");
        var kept = new List<string>();
        for (int n = 0; n <= FinishedInstanceLogs.KeepPerTemplate; n++)
        {
            if (n > 0) kept.Add(Log(Instance(n)));
            logs.Finished(Instance(n));
        }
        Assert.False(File.Exists(oldest), "the oldest instance's log was kept beyond the limit");
        Assert.False(File.Exists(oldestRotated));
        Assert.True(File.Exists(lookalike));
        Assert.True(File.Exists(other));
        Assert.Equal(FinishedInstanceLogs.KeepPerTemplate, kept.Count(File.Exists));
    }

    [Fact]
    public void Each_template_counts_its_own_instances()
    {
        var logs = new FinishedInstanceLogs(_dir);
        var echo = Log("echo@0-127.0.0.1:7-127.0.0.1:1");
        logs.Finished("echo@0-127.0.0.1:7-127.0.0.1:1");
        for (int n = 0; n <= FinishedInstanceLogs.KeepPerTemplate; n++) logs.Finished(Instance(n));
        Assert.True(File.Exists(echo), "another template's connections pushed out echo's only log");
    }
}
