using System.Globalization;
using Supervisor.Linux;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Sockets;

/// <summary>
/// The connections of the Accept=yes socket units, by the instance each one started: admitted
/// within MaxConnections and MaxConnectionsPerSource (else refused: the caller closes it at once,
/// as systemd does), named as systemd names the instance, held until the instance is released
/// (its service got its own copy; ours keeps the connection open until the unit is down, as
/// systemd's socket_fd), and counted per socket unit (NAccepted, NConnections, refused).
/// </summary>
public sealed class AcceptedConnections : IDisposable
{
    private sealed class Counts
    {
        public long Accepted;
        public long Refused;
        public int Running;
        public Dictionary<string, int> BySource { get; } = new(StringComparer.Ordinal);
        /// <summary>Refusals since the last admission: the first of a burst is logged, the rest summed up when it ends.</summary>
        public int RefusedInBurst;
    }

    private sealed record Held(string Socket, AcceptedConnection Connection);

    private readonly object _lock = new();
    private readonly Dictionary<string, Counts> _counts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Held> _byInstance = new(StringComparer.Ordinal);

    /// <summary>An admission: the instance to start, or null (refused); a line for the socket unit's log, or null.</summary>
    public sealed record Admission(string? Instance, string? Log);

    /// <summary>Admits <paramref name="connection"/> for <paramref name="socket"/> (its limits as declared now) and names its instance.</summary>
    public Admission Admit(UnitDefinition socket, AcceptedConnection connection)
    {
        lock (_lock)
        {
            var c = CountsOf(socket.Name);
            var source = connection.Source;
            int fromSource = source is null ? 0 : c.BySource.GetValueOrDefault(source);
            string? refusal = c.Running >= socket.Socket.MaxConnections
                ? $"too many incoming connections ({c.Running}, MaxConnections={socket.Socket.MaxConnections}): refusing connections"
                : fromSource >= socket.Socket.EffectiveMaxConnectionsPerSource
                    ? $"too many incoming connections ({fromSource}) from source {source} (MaxConnectionsPerSource={socket.Socket.EffectiveMaxConnectionsPerSource}): refusing connections"
                    : null;
            if (refusal is not null)
            {
                c.Refused++;
                return new Admission(null, c.RefusedInBurst++ == 0 ? refusal + " (each is accepted and closed at once; logged once per burst)" : null);
            }
            string? burst = c.RefusedInBurst > 1 ? $"{c.RefusedInBurst} connections were refused in the last burst" : null;
            c.RefusedInBurst = 0;
            var instance = SocketUnits.ConnectionInstance(socket, InstanceName(c.Accepted, connection));
            c.Accepted++;
            c.Running++;
            if (source is not null) c.BySource[source] = fromSource + 1;
            _byInstance[instance] = new Held(socket.Name, connection);
            return new Admission(instance, burst);
        }
    }

    /// <summary>systemd's instance_from_socket: "N-LOCAL:PORT-REMOTE:PORT", "N-PID-UID", or "N-unknown".</summary>
    private static string InstanceName(long n, AcceptedConnection c)
    {
        var nr = n.ToString(CultureInfo.InvariantCulture);
        if (c.Local is { } l && c.Remote is { } r)
            return $"{nr}-{AcceptedConnection.Unmapped(l.Address)}:{l.Port}-{AcceptedConnection.Unmapped(r.Address)}:{r.Port}";
        return c.Peer is { } p ? $"{nr}-{p.Pid}-{p.Uid}" : $"{nr}-unknown";
    }

    private Counts CountsOf(string socket)
    {
        if (!_counts.TryGetValue(socket, out var c)) _counts[socket] = c = new Counts();
        return c;
    }

    /// <summary>The connection an instance was started for, or null (not a connection's instance, or released).</summary>
    public AcceptedConnection? Of(string instance)
    {
        lock (_lock) return _byInstance.GetValueOrDefault(instance)?.Connection;
    }

    /// <summary>The instance is down (or never started): our copy of its connection is closed and it no longer counts.</summary>
    public void Release(string instance)
    {
        Held? held;
        lock (_lock)
        {
            if (!_byInstance.Remove(instance, out held)) return;
            var c = CountsOf(held.Socket);
            c.Running--;
            if (held.Connection.Source is { } source && c.BySource.TryGetValue(source, out var n))
            {
                if (n <= 1) c.BySource.Remove(source);
                else c.BySource[source] = n - 1;
            }
        }
        held.Connection.Fd.Dispose();
    }

    /// <summary>NAccepted (connections that got an instance), NConnections (running now) and the refused ones, of a socket unit.</summary>
    public (long Accepted, int Connections, long Refused) Of(UnitDefinition socket)
    {
        lock (_lock)
            return _counts.TryGetValue(socket.Name, out var c) ? (c.Accepted, c.Running, c.Refused) : (0, 0, 0);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var h in _byInstance.Values) h.Connection.Fd.Dispose();
            _byInstance.Clear();
        }
    }
}
