using System.Collections.Concurrent;
using Supervisor.Linux;
using Supervisor.Sandbox.Compiler;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Sockets;

/// <summary>
/// The listening sockets of the socket units: bound when a socket unit starts, kept by the
/// supervisor while its services restart (a connection made meanwhile waits in the backlog),
/// handed to a service's main process (fds 3.., sd_listen_fds), watched for the first connection
/// while the service is down, closed when the socket unit stops (unix socket files removed only
/// with RemoveOnStop, as systemd). Decides nothing: which sockets a service gets is
/// <see cref="SocketUnits.SocketsOf"/>.
/// </summary>
public sealed class ListeningSockets : IDisposable
{
    private sealed class Bound(UnitDefinition unit, List<(ListenAddress Address, SafeFd Fd)> sockets)
    {
        public UnitDefinition Unit { get; } = unit;
        public List<(ListenAddress Address, SafeFd Fd)> Sockets { get; } = sockets;
        public List<ulong> Watches { get; } = [];
    }

    private readonly ConcurrentDictionary<string, Bound> _bound = new(StringComparer.Ordinal);
    private readonly object _watchLock = new();

    /// <summary>
    /// A connection or datagram arrived on a socket unit while it was watched: the daemon starts
    /// the service (socket unit name, service name).
    /// </summary>
    public event Action<string, string>? Activated;

    /// <summary>Binds every address of the socket unit, replacing what it had; one failure closes the rest and throws with the address and errno.</summary>
    public void Bind(UnitDefinition socketUnit)
    {
        Close(socketUnit.Name, removeFiles: false);
        var s = socketUnit.Socket;
        var (uid, gid) = Owner(s);
        var options = new ListenOptions(s.Backlog, s.ReusePort,
            s.BindIPv6Only switch { BindIPv6Only.Both => false, BindIPv6Only.Ipv6Only => true, _ => null }, s.FreeBind, s.PassCredentials, s.PassSecurity);
        var sockets = new List<(ListenAddress, SafeFd)>();
        try
        {
            foreach (var address in s.Addresses)
                sockets.Add((address, Open(address, s, options, uid, gid)));
        }
        catch
        {
            foreach (var (_, fd) in sockets) fd.Dispose();
            throw;
        }
        var bound = new Bound(socketUnit, sockets);
        _bound[socketUnit.Name] = bound;
        Arm(socketUnit.Name);
    }

    private static SafeFd Open(ListenAddress a, SocketSection s, ListenOptions options, uint uid, uint gid)
    {
        int type = a.Kind switch { SocketKind.Stream => ListenSockets.SOCK_STREAM, SocketKind.Datagram => ListenSockets.SOCK_DGRAM, _ => ListenSockets.SOCK_SEQPACKET };
        try
        {
            if (!a.IsUnix) return ListenSockets.OpenInet(a.Ip, a.Port, type, options);
            if (a.Abstract) return ListenSockets.OpenUnix(a.UnixPath!, @abstract: true, type, options);
            var dir = Path.GetDirectoryName(a.UnixPath!)!;
            if (!Directory.Exists(dir)) Directory.CreateDirectory(dir, (UnixFileMode)s.DirectoryMode);
            var fd = ListenSockets.OpenUnix(a.UnixPath!, @abstract: false, type, options);
            try
            {
                // After bind: the file was made with the daemon's umask, which only narrows it.
                File.SetUnixFileMode(a.UnixPath!, (UnixFileMode)s.SocketMode);
                if (uid != 0 || gid != 0) ListenSockets.Chown(a.UnixPath!, uid, gid);
            }
            catch
            {
                fd.Dispose();
                throw;
            }
            return fd;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot listen on {a.KeyName} '{a.Text}': {e.Message}", e);
        }
    }

    private static (uint Uid, uint Gid) Owner(SocketSection s)
    {
        if (s.SocketUser is null && s.SocketGroup is null) return (0, 0);
        var db = UserDatabase.Load();
        var user = s.SocketUser is { } u ? db.FindUser(u) ?? throw new IOException($"SocketUser: no user '{u}' in /etc/passwd") : null;
        uint gid = s.SocketGroup is { } g ? db.FindGroup(g) ?? throw new IOException($"SocketGroup: no group '{g}' in /etc/group")
            : user?.Gid ?? 0;
        return (user?.Uid ?? 0, gid);
    }

    /// <summary>Closes the socket unit's sockets; with RemoveOnStop its unix socket files go too.</summary>
    public void Close(UnitDefinition socketUnit) => Close(socketUnit.Name, removeFiles: socketUnit.Socket.RemoveOnStop);

    private void Close(string name, bool removeFiles)
    {
        if (!_bound.TryRemove(name, out var bound)) return;
        Disarm(bound);
        foreach (var (address, fd) in bound.Sockets)
        {
            fd.Dispose();
            if (removeFiles && address.IsUnixFile)
            {
                try { ListenSockets.Remove(address.UnixPath!); }
                catch (IOException) { } // someone else's file now, or already gone: nothing of ours to remove
            }
        }
    }

    /// <summary>
    /// The descriptors a service's main process gets, in systemd's order (its socket units, each
    /// in Listen* order), with their LISTEN_FDNAMES names. Socket units that are not bound give none.
    /// </summary>
    public IReadOnlyList<(int Fd, string Name)> For(UnitDefinition service)
    {
        var result = new List<(int, string)>();
        var bound = _bound.Values.Select(b => b.Unit).ToList();
        foreach (var name in SocketUnits.SocketsOf(service, bound))
        {
            if (!_bound.TryGetValue(name, out var b)) continue;
            foreach (var (_, fd) in b.Sockets) result.Add((fd.Fd, SocketUnits.FdName(b.Unit)));
        }
        return result;
    }

    /// <summary>The socket units (bound now) whose service is <paramref name="service"/>.</summary>
    public IEnumerable<string> ActivatorsOf(string service) =>
        _bound.Values.Where(b => SocketUnits.ServiceOf(b.Unit) == service).Select(b => b.Unit.Name).ToList();

    /// <summary>Watches the socket unit's descriptors for a first connection or datagram (the service is not running).</summary>
    public void Arm(string socketUnit)
    {
        if (!_bound.TryGetValue(socketUnit, out var bound)) return;
        lock (_watchLock)
        {
            if (bound.Watches.Count > 0) return;
            foreach (var (_, fd) in bound.Sockets)
                bound.Watches.Add(EventLoop.Shared.Add(fd, _ => Fire(bound)));
        }
    }

    private void Fire(Bound bound)
    {
        // One activation per arming: the service takes the connection; the watch comes back when it is down again.
        Disarm(bound);
        Activated?.Invoke(bound.Unit.Name, SocketUnits.ServiceOf(bound.Unit));
    }

    private void Disarm(Bound bound)
    {
        lock (_watchLock)
        {
            foreach (var w in bound.Watches) EventLoop.Shared.Remove(w);
            bound.Watches.Clear();
        }
    }

    public void Dispose()
    {
        foreach (var name in _bound.Keys.ToList()) Close(name, removeFiles: false);
    }
}
