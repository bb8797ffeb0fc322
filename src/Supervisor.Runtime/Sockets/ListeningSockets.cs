using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Supervisor.Linux;
using Supervisor.Runtime.Output;
using Supervisor.Sandbox.Compiler;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Sockets;

/// <summary>
/// The listening sockets of the socket units: bound when a socket unit starts, kept by the
/// supervisor while its services restart (a connection made meanwhile waits in the backlog),
/// handed to a service's main process (fds 3.., sd_listen_fds), watched for the first connection
/// while the service is down, closed when the socket unit stops (unix socket files removed only
/// with RemoveOnStop, as systemd). Each bound socket is also kept by the fd holder, so a killed
/// supervisor's successor takes back the very same sockets (<see cref="Recover"/>): no moment
/// without a listener, a client connecting meanwhile waits in the backlog. Decides nothing: which
/// sockets a service gets is <see cref="SocketUnits.SocketsOf"/>.
/// </summary>
public sealed class ListeningSockets : IDisposable
{
    private const string KeyPrefix = "listen/";

    private sealed class Bound(UnitDefinition unit, List<(ListenAddress Address, SafeFd Fd)> sockets)
    {
        public UnitDefinition Unit { get; } = unit;
        public List<(ListenAddress Address, SafeFd Fd)> Sockets { get; } = sockets;
        public List<ulong> Watches { get; } = [];
    }

    private readonly ConcurrentDictionary<string, Bound> _bound = new(StringComparer.Ordinal);
    private readonly object _watchLock = new();
    private readonly HeldFds? _held;
    /// <summary>Sockets a killed supervisor left in the holder, by socket unit and holder key, until the unit binds.</summary>
    private readonly ConcurrentDictionary<string, Dictionary<string, SafeFd>> _recovered = new(StringComparer.Ordinal);

    /// <summary>Sockets kept only by this process (tests).</summary>
    public ListeningSockets() { }

    internal ListeningSockets(HeldFds held) => _held = held;

    /// <summary>
    /// A connection or datagram arrived on a socket unit while it was watched: the daemon starts
    /// the service (socket unit name, service name).
    /// </summary>
    public event Action<string, string>? Activated;

    /// <summary>
    /// An Accept=yes socket unit's listening socket has a connection waiting (raised on the event
    /// loop thread, again and again while one waits: the handler accepts it). The socket unit as it
    /// was bound, and the listening descriptor.
    /// </summary>
    public event Action<UnitDefinition, SafeFd>? Pending;

    /// <summary>
    /// Binds every address of the socket unit, replacing what it had; one failure closes the rest
    /// and throws with the address and errno. A socket a killed supervisor left for the same address
    /// and options is taken instead of a new one. Returns how many were taken so.
    /// </summary>
    public int Bind(UnitDefinition socketUnit)
    {
        Close(socketUnit.Name, removeFiles: false);
        var s = socketUnit.Socket;
        _recovered.TryRemove(socketUnit.Name, out var recovered);
        var sockets = new List<(ListenAddress, SafeFd)>();
        int taken = 0;
        try
        {
            var (uid, gid) = Owner(s);
            var options = new ListenOptions(s.Backlog, s.ReusePort,
                s.BindIPv6Only switch { BindIPv6Only.Both => false, BindIPv6Only.Ipv6Only => true, _ => null }, s.FreeBind, s.PassCredentials, s.PassSecurity);
            foreach (var (address, i) in s.Addresses.Select((a, i) => (a, i)))
            {
                var key = KeyOf(socketUnit, address, i);
                if (recovered is not null && recovered.Remove(key, out var kept)) taken++;
                else kept = Open(address, s, options, uid, gid);
                sockets.Add((address, kept));
                _held?.Put(key, kept);
            }
        }
        catch
        {
            foreach (var ((address, fd), i) in sockets.Select((x, i) => (x, i)))
            {
                fd.Dispose();
                _held?.Delete(KeyOf(socketUnit, address, i));
            }
            throw;
        }
        finally
        {
            Drop(recovered);
        }
        _bound[socketUnit.Name] = new Bound(socketUnit, sockets);
        Arm(socketUnit.Name);
        return taken;
    }

    /// <summary>
    /// At start-up, before any socket unit binds: the sockets a killed supervisor left in the
    /// holder, kept for the declared socket units whose address and options are still the same
    /// (the key says which); any other is closed and let go.
    /// </summary>
    public void Recover(IEnumerable<UnitDefinition> socketUnits)
    {
        if (_held is null) return;
        var left = _held.Claim(KeyPrefix);
        foreach (var unit in socketUnits.Where(u => u.Kind == UnitKind.Socket))
        {
            var mine = unit.Socket.Addresses.Select((a, i) => KeyOf(unit, a, i)).Where(left.ContainsKey)
                .ToDictionary(k => k, k => left[k], StringComparer.Ordinal);
            foreach (var k in mine.Keys) left.Remove(k);
            if (mine.Count > 0) _recovered[unit.Name] = mine;
        }
        Drop(left);
    }

    private void Drop(Dictionary<string, SafeFd>? fds)
    {
        if (fds is null) return;
        foreach (var (key, fd) in fds)
        {
            fd.Dispose();
            _held?.Delete(key);
        }
        fds.Clear();
    }

    /// <summary>
    /// "listen/UNIT/INDEX/HASH": the hash covers what the socket was made with (kind, address and
    /// the options set before listen), so a socket is taken back only for the same declaration.
    /// </summary>
    private static string KeyOf(UnitDefinition unit, ListenAddress a, int index)
    {
        var s = unit.Socket;
        var made = $"{a.Kind}\n{a.Text}\n{s.Accept}\n{s.Backlog}\n{s.ReusePort}\n{s.BindIPv6Only}\n{s.FreeBind}\n{s.PassCredentials}\n{s.PassSecurity}\n{s.SocketMode}\n{s.SocketUser}\n{s.SocketGroup}";
        return $"{KeyPrefix}{unit.Name}/{index}/{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(made)))[..16]}";
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
        foreach (var ((address, fd), i) in bound.Sockets.Select((x, i) => (x, i)))
        {
            fd.Dispose();
            _held?.Delete(KeyOf(bound.Unit, address, i));
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

    /// <summary>
    /// Watches the socket unit's descriptors for a first connection or datagram (the service is
    /// not running); an Accept=yes unit's for every connection, as long as it is bound.
    /// </summary>
    public void Arm(string socketUnit)
    {
        if (!_bound.TryGetValue(socketUnit, out var bound)) return;
        lock (_watchLock)
        {
            if (bound.Watches.Count > 0) return;
            foreach (var (_, fd) in bound.Sockets)
                bound.Watches.Add(bound.Unit.Socket.Accept ? EventLoop.Shared.Add(fd, _ => Pending?.Invoke(bound.Unit, fd)) : EventLoop.Shared.Add(fd, _ => Fire(bound)));
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
