using System.Text.Json;
using System.Text.Json.Serialization;

namespace Supervisor.Runtime.Seccomp;

/// <summary>
/// What a unit in SystemCallFilterMode = "learn" called outside its declared filter: the system
/// call names and the address families it opened sockets of. Kept in the state directory
/// (seccomp-learned/UNIT.json, written atomically whenever something new is seen), so a restart of
/// the supervisor or of the unit adds to it; delete the file to learn from scratch.
/// </summary>
public sealed class LearnedCalls
{
    public const string DirectoryName = "seccomp-learned";

    private readonly string _path;
    private readonly object _gate = new();
    private readonly SortedSet<string> _calls = new(StringComparer.Ordinal);
    private readonly SortedSet<int> _families = [];

    private LearnedCalls(string path) => _path = path;

    public static string PathFor(string stateDirectory, string unit) => Path.Combine(stateDirectory, DirectoryName, unit + ".json");

    /// <summary>What was learned for <paramref name="unit"/> so far; empty when nothing was (or the file is damaged, which <paramref name="damaged"/> says).</summary>
    public static LearnedCalls Load(string stateDirectory, string unit, out string? damaged)
    {
        var learned = new LearnedCalls(PathFor(stateDirectory, unit));
        damaged = null;
        if (!File.Exists(learned._path)) return learned;
        try
        {
            var file = JsonSerializer.Deserialize(File.ReadAllText(learned._path), LearnedCallsJson.Default.FileShape);
            learned._calls.UnionWith(file?.Calls ?? []);
            learned._families.UnionWith(file?.AddressFamilies ?? []);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            damaged = e.Message;
        }
        return learned;
    }

    public IReadOnlyCollection<string> Calls
    {
        get { lock (_gate) return [.. _calls]; }
    }

    /// <summary>Address family numbers (AF_*) the unit created sockets of, when socket() was outside the filter.</summary>
    public IReadOnlyCollection<int> AddressFamilies
    {
        get { lock (_gate) return [.. _families]; }
    }

    /// <summary>Adds a call (and for socket(), its family); true, and the file rewritten, when it is new.</summary>
    public bool Add(string call, int? family)
    {
        lock (_gate)
        {
            bool added = _calls.Add(call);
            added |= family is { } f && _families.Add(f);
            if (added) Save();
            return added;
        }
    }

    private void Save()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        var temp = _path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(new FileShape { Calls = [.. _calls], AddressFamilies = [.. _families] }, LearnedCallsJson.Default.FileShape));
        File.Move(temp, _path, overwrite: true);
    }

    /// <summary>The file's shape (public for the source-generated serializer, which NativeAOT needs: no reflection).</summary>
    internal sealed class FileShape
    {
        [JsonPropertyName("calls")]
        public List<string> Calls { get; set; } = [];

        [JsonPropertyName("address_families")]
        public List<int> AddressFamilies { get; set; } = [];
    }
}

/// <summary>System.Text.Json's source generator for the learned-calls file (trim- and AOT-safe).</summary>
[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(LearnedCalls.FileShape))]
internal sealed partial class LearnedCallsJson : JsonSerializerContext;
