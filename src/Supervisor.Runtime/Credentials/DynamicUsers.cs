using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Supervisor.Sandbox.Compiler;

namespace Supervisor.Runtime.Credentials;

/// <summary>No uid of the dynamic range could be given to a unit.</summary>
public sealed class DynamicUserException(string message) : Exception(message);

/// <summary>
/// DynamicUser's uid/gid pairs (gid = uid) from 61184–65519, one per user name: allocated when the
/// first unit of that user starts, shared by every unit that names the same user (as in systemd),
/// kept while one of them runs and across restarts, released when the last one stops. As systemd's
/// dynamic-user.c: the user name is hashed into the range and, if that uid is taken, further
/// candidates are probed (here a hash of the name and the attempt, so a name's uids are the same
/// on every host); a candidate is taken when /etc/passwd or /etc/group has it, another unit holds
/// it, or an IPC object is owned by it (systemd's search_ipc: a previous owner's leftovers).
/// The table lives in STATE/dynamic-users.json beside state.json, written atomically before a
/// process can run as a new uid and after one is released, so a supervisor killed with -9 finds
/// the pairs its adopted units still run as.
/// </summary>
public sealed class DynamicUsers
{
    public const string FileName = "dynamic-users.json";
    /// <summary>systemd gives up after 100 candidates; the range has 4336 uids.</summary>
    public const int MaxCandidates = 100;

    private readonly string _path;
    private readonly IpcObjects _ipc;
    private readonly object _gate = new();
    /// <summary>By user name: the pair and the units that hold it.</summary>
    private readonly Dictionary<string, (DynamicUserAllocation Pair, SortedSet<string> Units)> _byName = new(StringComparer.Ordinal);

    /// <param name="damaged">Called with the cause when the file exists but cannot be read: no pair is remembered then.</param>
    public DynamicUsers(string stateDirectory, IpcObjects ipc, Action<string>? damaged = null)
    {
        _path = Path.Combine(stateDirectory, FileName);
        _ipc = ipc;
        Load(damaged);
    }

    public string FilePath => _path;

    /// <summary>The pair the unit holds, or null.</summary>
    public DynamicUserAllocation? Of(string unit)
    {
        lock (_gate) return _byName.Values.FirstOrDefault(e => e.Units.Contains(unit)).Pair;
    }

    /// <summary>Every pair and the units that hold it, by user name.</summary>
    public IReadOnlyDictionary<string, (DynamicUserAllocation Pair, IReadOnlyList<string> Units)> All
    {
        get
        {
            lock (_gate)
                return _byName.ToDictionary(kv => kv.Key, kv => (kv.Value.Pair, (IReadOnlyList<string>)[.. kv.Value.Units]), StringComparer.Ordinal);
        }
    }

    /// <summary>
    /// The pair of user <paramref name="name"/> for the unit: the one the user has (another unit of
    /// that user may hold it already), or a new one. A unit whose User= changed gives its old one back first.
    /// </summary>
    public DynamicUserAllocation Acquire(string unit, string name, UserDatabase users)
    {
        lock (_gate)
        {
            if (_byName.TryGetValue(name, out var entry) && entry.Units.Contains(unit)) return entry.Pair;
            Drop(unit);
            if (entry.Pair is not null)
            {
                entry.Units.Add(unit);
                Save();
                return entry.Pair;
            }
            var taken = _byName.Values.Select(e => e.Pair.Uid).ToHashSet();
            var owners = _ipc.All().SelectMany(o => new[] { o.Uid, o.Gid }).ToHashSet();
            for (int attempt = 0; attempt < MaxCandidates; attempt++)
            {
                uint uid = Candidate(name, attempt);
                if (taken.Contains(uid) || users.UsesId(uid) || owners.Contains(uid)) continue;
                var pair = new DynamicUserAllocation(name, uid, uid);
                _byName[name] = (pair, new SortedSet<string>(StringComparer.Ordinal) { unit });
                Save();
                return pair;
            }
            Save();
            throw new DynamicUserException($"DynamicUser: no free uid for '{name}' in {ExecPlanCompiler.DynamicUidMin}–{ExecPlanCompiler.DynamicUidMax} after " +
                $"{MaxCandidates} candidates ({taken.Count} held by units, the others in /etc/passwd, /etc/group or owning IPC objects)");
        }
    }

    /// <summary>The pair an adopted process runs as, when the table lost it (a damaged file): taken over as it is.</summary>
    public void Restore(string unit, DynamicUserAllocation pair)
    {
        lock (_gate)
        {
            Drop(unit);
            if (_byName.TryGetValue(pair.Name, out var entry)) entry.Units.Add(unit);
            else _byName[pair.Name] = (pair, new SortedSet<string>(StringComparer.Ordinal) { unit });
            Save();
        }
    }

    /// <summary>
    /// The unit no longer holds its pair; the pair goes back to the pool when no other unit holds
    /// it. Returns the pair when it went back, else null.
    /// </summary>
    public DynamicUserAllocation? Release(string unit)
    {
        lock (_gate)
        {
            var name = _byName.FirstOrDefault(kv => kv.Value.Units.Contains(unit)).Key;
            if (name is null) return null;
            var freed = Drop(unit);
            Save();
            return freed;
        }
    }

    /// <summary>Units <paramref name="keep"/> says no more about (gone, and nothing runs as their uid) give their pairs back, at start.</summary>
    public IReadOnlyList<(string Unit, DynamicUserAllocation Pair)> Prune(Func<string, DynamicUserAllocation, bool> keep)
    {
        lock (_gate)
        {
            var gone = _byName.Values.SelectMany(e => e.Units.Select(u => (Unit: u, e.Pair))).Where(x => !keep(x.Unit, x.Pair)).ToList();
            foreach (var (unit, _) in gone) Drop(unit);
            if (gone.Count > 0) Save();
            return gone;
        }
    }

    /// <summary>Takes the unit off its user's holders; the user's pair when that was the last holder.</summary>
    private DynamicUserAllocation? Drop(string unit)
    {
        foreach (var (name, entry) in _byName)
        {
            if (!entry.Units.Remove(unit)) continue;
            if (entry.Units.Count > 0) return null;
            _byName.Remove(name);
            return entry.Pair;
        }
        return null;
    }

    /// <summary>
    /// A pair for a one-off run outside the daemon (`supervisor exec`): the first candidate of the
    /// name that no passwd or group entry and no IPC object uses, recorded nowhere.
    /// </summary>
    public static DynamicUserAllocation Transient(string name, UserDatabase users, IpcObjects ipc)
    {
        var owners = ipc.All().SelectMany(o => new[] { o.Uid, o.Gid }).ToHashSet();
        for (int attempt = 0; attempt < MaxCandidates; attempt++)
            if (Candidate(name, attempt) is var uid && !users.UsesId(uid) && !owners.Contains(uid))
                return new DynamicUserAllocation(name, uid, uid);
        throw new DynamicUserException($"DynamicUser: no free uid for '{name}' in {ExecPlanCompiler.DynamicUidMin}–{ExecPlanCompiler.DynamicUidMax} after {MaxCandidates} candidates");
    }

    /// <summary>Attempt 0 is the name's own hash, as systemd's; later ones hash the name with the attempt.</summary>
    public static uint Candidate(string name, int attempt)
    {
        var input = attempt == 0 ? name : $"{name}\n{attempt}";
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(input));
        uint range = ExecPlanCompiler.DynamicUidMax - ExecPlanCompiler.DynamicUidMin + 1;
        return ExecPlanCompiler.DynamicUidMin + BinaryPrimitives.ReadUInt32LittleEndian(hash) % range;
    }

    private void Load(Action<string>? damaged)
    {
        if (!File.Exists(_path)) return;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(_path));
            foreach (var user in doc.RootElement.GetProperty("users").EnumerateObject())
            {
                var pair = new DynamicUserAllocation(user.Name, user.Value.GetProperty("uid").GetUInt32(), user.Value.GetProperty("gid").GetUInt32());
                var units = new SortedSet<string>(user.Value.GetProperty("units").EnumerateArray().Select(u => u.GetString() ?? ""), StringComparer.Ordinal);
                units.Remove("");
                if (pair.Uid is >= ExecPlanCompiler.DynamicUidMin and <= ExecPlanCompiler.DynamicUidMax && units.Count > 0)
                    _byName[user.Name] = (pair, units);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            damaged?.Invoke(e.Message);
            _byName.Clear();
        }
    }

    /// <summary>Temp file, fsync, rename: the table is whole or as it was.</summary>
    private void Save()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        var temp = _path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                w.WriteStartObject();
                w.WriteNumber("version", 1);
                w.WriteStartObject("users");
                foreach (var (name, entry) in _byName.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    w.WriteStartObject(name);
                    w.WriteNumber("uid", entry.Pair.Uid);
                    w.WriteNumber("gid", entry.Pair.Gid);
                    w.WriteStartArray("units");
                    foreach (var unit in entry.Units) w.WriteStringValue(unit);
                    w.WriteEndArray();
                    w.WriteEndObject();
                }
                w.WriteEndObject();
                w.WriteEndObject();
            }
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, _path, overwrite: true);
    }
}
