using System.Globalization;
using System.Text.Json;
using Supervisor.Linux.Proc;

namespace Supervisor.Runtime.Adoption;

/// <summary>What is remembered of one active unit across a supervisor restart.</summary>
public sealed record UnitMemory(int MainPid, string ProcessStartTime, int Restarts, long ActiveSinceUnixMs)
{
    /// <summary>The MainPid of a unit that is active with no process: a oneshot with RemainAfterExit, in "exited".</summary>
    public const int NoProcess = 0;
}

/// <summary>
/// STATE/state.json: the running units' main processes, written atomically (temp file, fsync,
/// rename) whenever a unit's state changes. With the cgroup tree it lets a supervisor restarted
/// after kill -9, a crash or an upgrade adopt running services instead of restarting them. A
/// process is recognised by pid + its start time (/proc/PID/stat field 22) + membership of the
/// unit's cgroup, never by a bare pid (pids are reused).
/// </summary>
public sealed class StateFile(string directory)
{
    private readonly string _path = System.IO.Path.Combine(directory, "state.json");
    private readonly object _gate = new();

    public string Path => _path;

    /// <summary>What was remembered; nothing when there is no file (a first start, or after a clean stop).</summary>
    /// <param name="damaged">Called with the cause when the file exists but cannot be read: nothing is adopted then.</param>
    public IReadOnlyDictionary<string, UnitMemory> Read(Action<string>? damaged = null)
    {
        if (!File.Exists(_path)) return new Dictionary<string, UnitMemory>();
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(_path));
            var result = new Dictionary<string, UnitMemory>(StringComparer.Ordinal);
            foreach (var unit in doc.RootElement.GetProperty("units").EnumerateObject())
            {
                var u = unit.Value;
                result[unit.Name] = new UnitMemory(u.GetProperty("mainPid").GetInt32(), u.GetProperty("processStartTime").GetString() ?? "",
                    u.GetProperty("restarts").GetInt32(), u.GetProperty("activeSinceUnixMs").GetInt64());
            }
            return result;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            damaged?.Invoke(e.Message);
            return new Dictionary<string, UnitMemory>();
        }
    }

    /// <param name="durable">fsync before the rename (survives a power loss, not only a killed supervisor).</param>
    public void Write(IReadOnlyDictionary<string, UnitMemory> units, bool durable = true)
    {
        lock (_gate)
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(_path)!);
            var temp = _path + ".tmp";
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
                {
                    w.WriteStartObject();
                    w.WriteNumber("version", 1);
                    w.WriteStartObject("units");
                    foreach (var (name, u) in units.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                    {
                        w.WriteStartObject(name);
                        w.WriteNumber("mainPid", u.MainPid);
                        w.WriteString("processStartTime", u.ProcessStartTime);
                        w.WriteNumber("restarts", u.Restarts);
                        w.WriteNumber("activeSinceUnixMs", u.ActiveSinceUnixMs);
                        w.WriteEndObject();
                    }
                    w.WriteEndObject();
                    w.WriteEndObject();
                }
                stream.Flush(flushToDisk: durable);
            }
            File.Move(temp, _path, overwrite: true);
        }
    }

    /// <summary>The process's start time in clock ticks since boot (/proc/PID/stat field 22), or null when it is gone.</summary>
    public static string? StartTimeOf(int pid) => ProcStat.TryRead(pid)?.StartTime.ToString(CultureInfo.InvariantCulture);
}
