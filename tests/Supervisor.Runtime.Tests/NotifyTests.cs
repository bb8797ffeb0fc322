using System.Net.Sockets;
using System.Text;
using Supervisor.Cgroups.Tests.Fake;
using Supervisor.Cgroups;
using Supervisor.Runtime.Host;
using Supervisor.Runtime.Notify;
using Supervisor.Supervision;
using Supervisor.Supervision.Logs;

namespace Supervisor.Runtime.Tests;

/// <summary>sd_notify endpoints: what a process of the unit's cgroup says becomes the manager's events; others are not believed.</summary>
public sealed class NotifyTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly FakeCgroupFs _fs = FakeCgroupFs.HybridV1();
    private readonly RecordingSink _sink = new();
    private readonly RecordingLog _log = new();
    private readonly UnitSlot _slot;

    public NotifyTests() => _slot = new UnitSlot("svc", new UnitLog(Path.Combine(_dir.Dir, "logs"), "svc", 1 << 20, 1));

    private (string Path, ICgroup Cgroup) Open(bool testProcessInCgroup)
    {
        _fs.AddCgroup($"{FakeCgroupFs.Root}/svc.service");
        foreach (var h in FakeCgroupFs.V1Hierarchies)
            File.WriteAllText(Path.Combine(_fs.FsRoot, h, FakeCgroupFs.Root, "svc.service", "cgroup.procs"),
                testProcessInCgroup ? $"{Environment.ProcessId}\n" : "1\n");
        var cgroup = _fs.Driver().Open(CgroupPath.ForUnit("svc", null));
        var path = Path.Combine(_dir.Dir, "notify", "svc");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        new NotifyEndpoints(_sink, _log.Write, CancellationToken.None).Open(_slot, path, cgroup);
        return (path, cgroup);
    }

    private static void Send(string path, string message)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        s.SendTo(Encoding.UTF8.GetBytes(message), new UnixDomainSocketEndPoint(path));
    }

    [Fact]
    public void Ready_watchdog_and_mainpid_from_the_unit_become_events_with_their_sender()
    {
        var (path, _) = Open(testProcessInCgroup: true);

        Send(path, "READY=1\nWATCHDOG=1\nMAINPID=4242\nSTATUS=serving");

        // One event per datagram, with the sender's pid from SCM_CREDENTIALS: the manager judges it by NotifyAccess.
        Wait.Until(() => _sink.Events.Count >= 1, "the message");
        var n = Assert.IsType<UnitEvent.Notified>(Assert.Single(_sink.Events).Event);
        Assert.Equal(Environment.ProcessId, n.SenderPid);
        Assert.Contains(n.Events, e => e is UnitEvent.Ready);
        Assert.Contains(n.Events, e => e is UnitEvent.WatchdogPing);
        Assert.Contains(n.Events, e => e is UnitEvent.MainPidChanged { Pid: 4242 });
        Assert.Equal(["status: serving"], n.Lines);
    }

    [Fact]
    public void A_process_outside_the_unit_cgroup_is_not_believed()
    {
        var (path, _) = Open(testProcessInCgroup: false);

        Send(path, "READY=1");

        Wait.Until(() => _log.Lines.Count > 0, "the rejection to be logged");
        Assert.DoesNotContain(_sink.Events, e => e.Event is UnitEvent.Notified);
    }

    public void Dispose()
    {
        NotifyEndpoints.Close(_slot);
        _slot.Dispose();
        _fs.Dispose();
        _dir.Dispose();
    }
}
