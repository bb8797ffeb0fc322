using Supervisor.Linux;
using Supervisor.Linux.Native;
using Supervisor.Runtime.Sockets;
using Supervisor.Supervision.Notify;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Tests;

/// <summary>The fd store's rules (systemd.service(5) FileDescriptorStoreMax=), on real pipes, without root.</summary>
public class FdStoreTests
{
    private readonly List<string> _log = [];
    private readonly FdStores _stores;

    public FdStoreTests() => _stores = new FdStores(null, (_, line) => { lock (_log) _log.Add(line); });

    private static UnitDefinition Service(int max) => new()
    {
        Name = "svc", Kind = UnitKind.Service, Sources = new(["/x"]),
        Service = new ServiceSection { FileDescriptorStoreMax = max },
    };

    private static SafeFd Dup(SafeFd fd) => new(Libc.Fcntl(fd.Fd, Libc.F_DUPFD_CLOEXEC, 3));

    private static FdStoreRequest Store(string? name, bool poll, params SafeFd[] fds) => new(fds, store: true, remove: false, name, poll);

    /// <summary>The open file behind one of this process's descriptors.</summary>
    private static string FileOf(int fd) => new FileInfo($"/proc/self/fd/{fd}").LinkTarget ?? "";

    [Fact]
    public void Up_to_the_maximum_is_stored_in_order_with_names_and_the_rest_is_refused_with_systemds_line_and_closed()
    {
        var (r1, w1) = Libc.Pipe();
        var (r2, w2) = Libc.Pipe();
        var (r3, w3) = Libc.Pipe();
        var third = FileOf(r3.Fd);
        _stores.Apply(Service(2), Store("a", true, Dup(r1)));
        _stores.Apply(Service(2), Store(null, true, Dup(r2), Dup(r3)));

        var stored = _stores.For("svc");
        Assert.Equal(["a", "stored"], stored.Select(s => s.Name));
        Assert.Equal([FileOf(r1.Fd), FileOf(r2.Fd)], stored.Select(s => FileOf(s.Fd)));
        Assert.Contains("Cannot store more fds than FileDescriptorStoreMax=2, closing remaining.", _log);
        // The refused copy is closed: only our own two ends still lead to the third pipe.
        Assert.Equal(2, Directory.GetFiles("/proc/self/fd").Count(f => new FileInfo(f).LinkTarget == third));
        foreach (var fd in new[] { r1, w1, r2, w2, r3, w3 }) fd.Dispose();
        _stores.Release("svc");
    }

    [Fact]
    public void The_same_file_is_stored_once_and_FDSTOREREMOVE_closes_a_name_and_a_bad_name_is_logged()
    {
        var (r, w) = Libc.Pipe();
        _stores.Apply(Service(8), Store("memo", true, Dup(r)));
        _stores.Apply(Service(8), Store("memo", true, Dup(r)));
        Assert.Equal(1, _stores.CountOf("svc"));
        _stores.Apply(Service(8), Store("bad:name", true, Dup(w)));
        Assert.Contains("Passed FDNAME= name is invalid, ignoring.", _log);
        Assert.Equal(["memo", "stored"], _stores.For("svc").Select(s => s.Name));

        _stores.Apply(Service(8), new FdStoreRequest([], store: false, remove: true, "memo", poll: true));
        Assert.Equal(["stored"], _stores.For("svc").Select(s => s.Name));
        _stores.Apply(Service(8), new FdStoreRequest([], store: false, remove: true, null, poll: true));
        Assert.Contains("FDSTOREREMOVE=1 requested, but no valid file descriptor name passed, ignoring.", _log);
        _stores.Release("svc");
        Assert.Empty(_stores.For("svc"));
        r.Dispose();
        w.Dispose();
    }

    [Fact]
    public void A_stored_read_end_leaves_the_store_when_its_writer_hangs_up_unless_FDPOLL_0_was_sent()
    {
        var (polledRead, polledWrite) = Libc.Pipe();
        var (keptRead, keptWrite) = Libc.Pipe();
        _stores.Apply(Service(8), Store("polled", true, polledRead));
        _stores.Apply(Service(8), Store("kept", false, keptRead));
        Assert.Equal(2, _stores.CountOf("svc"));

        polledWrite.Dispose();
        keptWrite.Dispose();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (_stores.CountOf("svc") != 1 && DateTime.UtcNow < deadline) Thread.Sleep(20);
        Assert.Equal(["kept"], _stores.For("svc").Select(s => s.Name));
        lock (_log) Assert.Contains("stored descriptor 'polled' hung up or failed; removed from the fd store", _log);
        _stores.Release("svc");
    }
}
