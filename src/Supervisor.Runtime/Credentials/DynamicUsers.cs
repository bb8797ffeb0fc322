using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Supervisor.Sandbox.Compiler;

namespace Supervisor.Runtime.Credentials;

/// <summary>No uid of the dynamic range could be given to a unit.</summary>
public sealed class DynamicUserException(string message) : Exception(message);

/// <summary>
/// DynamicUser's uid/gid pairs (gid = uid), one per unit, from 61184–65519: allocated when the unit
/// starts, kept while it runs and across its restarts, released when it stops. As systemd's
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
    private readonly Dictionary<string, DynamicUserAllocation> _byUnit = new(StringComparer.Ordinal);

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
        lock (_gate) return _byUnit.GetValueOrDefault(unit);
    }

    /// <summary>Every unit's pair, by unit.</summary>
    public IReadOnlyDictionary<string, DynamicUserAllocation> All
    {
        get { lock (_gate) return new Dictionary<string, DynamicUserAllocation>(_byUnit, StringComparer.Ordinal); }
    }

    /// <summary>
    /// The unit's pair for the user <paramref name="name"/>: the one it holds, or a new one (a unit
    /// whose User= changed gives its old pair back first).
    /// </summary>
    public DynamicUserAllocation Acquire(string unit, string name, UserDatabase users)
    {
        lock (_gate)
        {
            if (_byUnit.TryGetValue(unit, out var held) && held.Name == name) return held;
            _byUnit.Remove(unit);
            var taken = _byUnit.Values.Select(a => a.Uid).ToHashSet();
            var owners = _ipc.All().SelectMany(o => new[] { o.Uid, o.Gid }).ToHashSet();
            for (int attempt = 0; attempt < MaxCandidates; attempt++)
            {
                uint uid = Candidate(name, attempt);
                if (taken.Contains(uid) || users.UsesId(uid) || owners.Contains(uid)) continue;
                var pair = new DynamicUserAllocation(name, uid, uid);
                _byUnit[unit] = pair;
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
            _byUnit[unit] = pair;
            Save();
        }
    }

    /// <summary>The unit's pair goes back to the pool; false when it held none.</summary>
    public bool Release(string unit)
    {
        lock (_gate)
        {
            if (!_byUnit.Remove(unit)) return false;
            Save();
            return true;
        }
    }

    /// <summary>The pairs of units <paramref name="keep"/> says no more about (gone units, nothing running as the uid): released at start.</summary>
    public IReadOnlyList<(string Unit, DynamicUserAllocation Pair)> Prune(Func<string, DynamicUserAllocation, bool> keep)
    {
        lock (_gate)
        {
            var gone = _byUnit.Where(kv => !keep(kv.Key, kv.Value)).Select(kv => (kv.Key, kv.Value)).ToList();
            foreach (var (unit, _) in gone) _byUnit.Remove(unit);
            if (gone.Count > 0) Save();
            return gone;
        }
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
            foreach (var unit in doc.RootElement.GetProperty("units").EnumerateObject())
            {
                var pair = new DynamicUserAllocation(unit.Value.GetProperty("name").GetString() ?? "",
                    unit.Value.GetProperty("uid").GetUInt32(), unit.Value.GetProperty("gid").GetUInt32());
                if (pair.Uid is >= ExecPlanCompiler.DynamicUidMin and <= ExecPlanCompiler.DynamicUidMax && pair.Name.Length > 0)
                    _byUnit[unit.Name] = pair;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            damaged?.Invoke(e.Message);
            _byUnit.Clear();
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
                w.WriteStartObject("units");
                foreach (var (unit, pair) in _byUnit.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    w.WriteStartObject(unit);
                    w.WriteString("name", pair.Name);
                    w.WriteNumber("uid", pair.Uid);
                    w.WriteNumber("gid", pair.Gid);
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
