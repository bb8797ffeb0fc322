using System.Globalization;
using Supervisor.Linux;
using Supervisor.Linux.Files;
using Supervisor.Runtime.Output;
using Supervisor.Supervision.Notify;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Sockets;

/// <summary>
/// The services' fd stores, as systemd's FileDescriptorStoreMax= (systemd.service(5)): descriptors a
/// service hands over with sd_notify FDSTORE=1 are kept here while it restarts and passed back to
/// its next main process after the socket units' descriptors (LISTEN_FDS, LISTEN_FDNAMES with their
/// FDNAME=, "stored" by default), in the order they were stored. One file is stored once (kcmp), a
/// store beyond FileDescriptorStoreMax is refused with systemd's log line, FDSTOREREMOVE=1 drops a
/// name, and a stored descriptor that hangs up or fails is dropped unless FDPOLL=0 was sent. Each is
/// also kept by the fd holder, so a killed supervisor's successor passes them on. The store is
/// closed when the service stops (is down with no restart pending).
/// </summary>
public sealed class FdStores
{
    private const string KeyPrefix = "fdstore/";
    private const string DefaultName = "stored";

    private sealed class Stored(SafeFd fd, string name, long seq, bool poll)
    {
        public SafeFd Fd { get; } = fd;
        public string Name { get; } = name;
        public long Seq { get; } = seq;
        public bool Poll { get; } = poll;
        public ulong Watch { get; set; }
    }

    private readonly Dictionary<string, List<Stored>> _stores = new(StringComparer.Ordinal);
    private readonly HeldFds? _held;
    private readonly Action<string, string> _log;
    private long _seq;

    internal FdStores(HeldFds? held, Action<string, string> log)
    {
        _held = held;
        _log = log;
    }

    /// <summary>Carries out an admitted FDSTORE=1 / FDSTOREREMOVE=1 message; what is not stored is closed.</summary>
    public void Apply(UnitDefinition unit, FdStoreRequest request)
    {
        using (request)
        {
            if (request.Remove)
            {
                if (request.Name is { } n && SocketUnits.IsValidFdName(n)) Remove(unit.Name, n);
                else _log(unit.Name, "FDSTOREREMOVE=1 requested, but no valid file descriptor name passed, ignoring.");
            }
            if (!request.Store) return;
            var name = request.Name;
            if (name is not null && !SocketUnits.IsValidFdName(name))
            {
                _log(unit.Name, "Passed FDNAME= name is invalid, ignoring.");
                name = null;
            }
            foreach (var fd in request.Fds)
            {
                if (!Add(unit, fd, name ?? DefaultName, request.Poll))
                {
                    _log(unit.Name, $"Cannot store more fds than FileDescriptorStoreMax={unit.Service.FileDescriptorStoreMax}, closing remaining.");
                    return;
                }
            }
        }
    }

    /// <summary>Stores <paramref name="fd"/> (taken from the request) unless the store is full; one already stored is closed and counts as stored.</summary>
    private bool Add(UnitDefinition unit, SafeFd fd, string name, bool poll)
    {
        Stored entry;
        lock (_stores)
        {
            var store = StoreOf(unit.Name);
            if (store.Count >= unit.Service.FileDescriptorStoreMax) return false;
            if (store.Any(s => SameFile.Of(s.Fd, fd))) return true; // the request closes this copy
            entry = new Stored(Take(fd), name, ++_seq, poll);
            store.Add(entry);
        }
        _held?.Put(KeyOf(unit.Name, entry), entry.Fd);
        Watch(unit.Name, entry);
        return true;
    }

    /// <summary>The descriptor, now owned here; the request's handle no longer closes it.</summary>
    private static SafeFd Take(SafeFd fd)
    {
        var mine = new SafeFd((int)fd.DangerousGetHandle());
        fd.SetHandleAsInvalid();
        return mine;
    }

    private List<Stored> StoreOf(string unit)
    {
        if (!_stores.TryGetValue(unit, out var store)) _stores[unit] = store = [];
        return store;
    }

    /// <summary>With polling (the default), a descriptor whose other end is gone leaves the store, as in systemd.</summary>
    private void Watch(string unit, Stored entry)
    {
        if (!entry.Poll) return;
        try
        {
            entry.Watch = EventLoop.Shared.AddHangup(entry.Fd, () =>
            {
                entry.Watch = 0;
                if (Drop(unit, s => ReferenceEquals(s, entry)) > 0)
                    _log(unit, $"stored descriptor '{entry.Name}' hung up or failed; removed from the fd store");
            });
        }
        catch (IOException e)
        {
            _log(unit, $"stored descriptor '{entry.Name}' cannot be watched for hang-up ({e.Message}); it stays stored");
        }
    }

    private void Remove(string unit, string name) => Drop(unit, s => s.Name == name);

    /// <summary>Closes the stored descriptors that match, here and in the holder; how many.</summary>
    private int Drop(string unit, Func<Stored, bool> match)
    {
        List<Stored> gone;
        lock (_stores)
        {
            if (!_stores.TryGetValue(unit, out var store)) return 0;
            gone = store.Where(match).ToList();
            store.RemoveAll(s => gone.Contains(s));
            if (store.Count == 0) _stores.Remove(unit);
        }
        foreach (var s in gone)
        {
            if (s.Watch != 0) EventLoop.Shared.Remove(s.Watch);
            s.Fd.Dispose();
            _held?.Delete(KeyOf(unit, s));
        }
        return gone.Count;
    }

    /// <summary>What the unit's next main process gets after its sockets, with the LISTEN_FDNAMES names, oldest first.</summary>
    public IReadOnlyList<(int Fd, string Name)> For(string unit)
    {
        lock (_stores)
            return _stores.TryGetValue(unit, out var store) ? store.Select(s => (s.Fd.Fd, s.Name)).ToList() : [];
    }

    /// <summary>How many descriptors the unit has stored now.</summary>
    public int CountOf(string unit)
    {
        lock (_stores) return _stores.TryGetValue(unit, out var store) ? store.Count : 0;
    }

    /// <summary>The service is down for good: its store is closed (systemd releases it then too).</summary>
    public void Release(string unit) => Drop(unit, _ => true);

    /// <summary>
    /// At start-up: the stores a killed supervisor left in the holder, kept for the declared
    /// services that still allow them (up to their FileDescriptorStoreMax, oldest first); any other
    /// is closed and let go.
    /// </summary>
    public void Recover(IEnumerable<UnitDefinition> units)
    {
        if (_held is null) return;
        var services = units.Where(u => u.Kind == UnitKind.Service && u.Service.FileDescriptorStoreMax > 0).ToDictionary(u => u.Name, StringComparer.Ordinal);
        var found = _held.Claim(KeyPrefix).Select(kv => (Key: kv.Key, Fd: kv.Value, Parsed: Parse(kv.Key))).OrderBy(x => x.Parsed?.Seq ?? 0).ToList();
        foreach (var (key, fd, parsed) in found)
        {
            _seq = Math.Max(_seq, parsed?.Seq ?? 0);
            bool keep = parsed is { } p && services.TryGetValue(p.Unit, out var unit) && CountOf(p.Unit) < unit.Service.FileDescriptorStoreMax;
            if (!keep)
            {
                fd.Dispose();
                _held.Delete(key);
                continue;
            }
            var entry = new Stored(fd, parsed!.Value.Name, parsed.Value.Seq, parsed.Value.Poll);
            lock (_stores) StoreOf(parsed.Value.Unit).Add(entry);
            Watch(parsed.Value.Unit, entry);
        }
    }

    /// <summary>"fdstore/UNIT/SEQ/p|n/NAME": p when it is polled; the name last, as it may hold '/'.</summary>
    private static string KeyOf(string unit, Stored s) =>
        $"{KeyPrefix}{unit}/{s.Seq.ToString(CultureInfo.InvariantCulture)}/{(s.Poll ? 'p' : 'n')}/{s.Name}";

    private static (string Unit, long Seq, bool Poll, string Name)? Parse(string key)
    {
        var parts = key[KeyPrefix.Length..].Split('/', 4);
        if (parts.Length != 4 || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var seq) || parts[2] is not ("p" or "n")) return null;
        return (parts[0], seq, parts[2] == "p", parts[3]);
    }
}
