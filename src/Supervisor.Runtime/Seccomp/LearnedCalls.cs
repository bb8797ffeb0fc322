using System.Text.Json;
using System.Text.Json.Serialization;

namespace Supervisor.Runtime.Seccomp;

/// <summary>
/// What a unit in SystemCallFilterMode = "learn" called outside its declared filter: the system
/// call names, the address families it opened sockets of, and for the calls whose arguments decide
/// a capability or a namespace (<see cref="Sandbox.Seccomp.LearnedArgument"/>) each distinct
/// decisive argument, with the time learning began. Kept in the state directory
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
    private readonly SortedDictionary<string, SortedSet<ulong>> _arguments = new(StringComparer.Ordinal);
    private DateTimeOffset? _since;

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
            foreach (var (call, values) in file?.Arguments ?? [])
                learned._arguments[call] = [.. values];
            learned._since = file?.Since;
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

    /// <summary>Each call's distinct decisive arguments (<see cref="Sandbox.Seccomp.LearnedArgument"/>).</summary>
    public IReadOnlyDictionary<string, IReadOnlySet<ulong>> Arguments
    {
        get { lock (_gate) return _arguments.ToDictionary(kv => kv.Key, kv => (IReadOnlySet<ulong>)new SortedSet<ulong>(kv.Value), StringComparer.Ordinal); }
    }

    /// <summary>When the first call was recorded; null when nothing was (or the file predates the field).</summary>
    public DateTimeOffset? Since
    {
        get { lock (_gate) return _since; }
    }

    public string FilePath => _path;

    /// <summary>
    /// Adds a call (for socket(), its family; and its decisive argument); the file is rewritten
    /// when anything is new. True when the call or the family is (what is worth a log line).
    /// </summary>
    public bool Add(string call, int? family, ulong? argument = null)
    {
        lock (_gate)
        {
            bool added = _calls.Add(call);
            added |= family is { } f && _families.Add(f);
            bool newArgument = false;
            if (argument is { } a)
            {
                if (!_arguments.TryGetValue(call, out var values)) _arguments[call] = values = [];
                newArgument = values.Add(a);
            }
            if (added || newArgument)
            {
                _since ??= DateTimeOffset.UtcNow;
                Save();
            }
            return added;
        }
    }

    private void Save()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        var temp = _path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(new FileShape
        {
            Since = _since,
            Calls = [.. _calls],
            AddressFamilies = [.. _families],
            Arguments = _arguments.ToDictionary(kv => kv.Key, kv => kv.Value.ToList(), StringComparer.Ordinal),
        }, LearnedCallsJson.Default.FileShape));
        File.Move(temp, _path, overwrite: true);
    }

    /// <summary>The file's shape (public for the source-generated serializer, which NativeAOT needs: no reflection).</summary>
    internal sealed class FileShape
    {
        [JsonPropertyName("calls")]
        public List<string> Calls { get; set; } = [];

        [JsonPropertyName("address_families")]
        public List<int> AddressFamilies { get; set; } = [];

        [JsonPropertyName("arguments")]
        public Dictionary<string, List<ulong>> Arguments { get; set; } = [];

        [JsonPropertyName("since")]
        public DateTimeOffset? Since { get; set; }
    }
}

/// <summary>System.Text.Json's source generator for the learned-calls file (trim- and AOT-safe).</summary>
[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(LearnedCalls.FileShape))]
internal sealed partial class LearnedCallsJson : JsonSerializerContext;
