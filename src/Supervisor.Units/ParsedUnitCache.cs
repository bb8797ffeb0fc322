using System.Collections.Concurrent;

namespace Supervisor.Units;

/// <summary>
/// The units as last parsed, kept between loads of one directory so that a change re-parses only
/// what it touches. Each entry remembers every path its result came from: the unit file (for an
/// instance, its template), the drop-in directories it looked in (also those that did not exist)
/// and the drop-ins it read, each with its size, times and mode. A load takes an entry as long as
/// it is neither invalidated by name (<see cref="Invalidate"/>: the paths inotify reported) nor
/// stale (<see cref="DropStale"/>: any of its paths looks different now); <see cref="Clear"/> is
/// the full re-read (SIGHUP, D-Bus Reload, missed events).
/// </summary>
public sealed class ParsedUnitCache
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private int _parses;

    /// <summary>One unit's result: its parse (null: the unit is invalid) and the diagnostics its files gave.</summary>
    internal sealed record Entry(string Path, ParsedUnit? Parsed, IReadOnlyList<Diagnostic> Diagnostics,
        IReadOnlyList<(string Path, FileSignature Signature)> Sources);

    /// <summary>How many unit parses the loads through this cache did (what a change cost; tests read it).</summary>
    public int Parses => Volatile.Read(ref _parses);

    /// <summary>Names of the units parsed by the last load (tests and the daemon's log).</summary>
    public IReadOnlyCollection<string> LastParsed { get; private set; } = [];

    private readonly ConcurrentBag<string> _parsedNow = [];

    /// <summary>The directory as last loaded, with its indexes, when a change can be loaded around the units it touches (<see cref="IncrementalLoad"/>).</summary>
    internal LoadState? State { get; set; }

    internal bool TryGetByName(string name, out Entry entry) => _entries.TryGetValue(name, out entry!);

    internal bool TryGet(string name, string path, out Entry entry) =>
        _entries.TryGetValue(name, out entry!) && entry.Path == path;

    internal void Store(string name, Entry entry)
    {
        _entries[name] = entry;
        Interlocked.Increment(ref _parses);
        _parsedNow.Add(name);
    }

    internal void BeginLoad() => _parsedNow.Clear();

    /// <summary>Forgets units the load did not find any more (a file deleted or renamed away).</summary>
    internal void EndLoad(IReadOnlySet<string> loaded)
    {
        foreach (var name in _entries.Keys)
            if (!loaded.Contains(name)) _entries.TryRemove(name, out _);
        LastParsed = [.. _parsedNow.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
    }

    /// <summary>The end of a load of a change (<see cref="IncrementalLoad"/>): entries of units whose file is gone are dropped there.</summary>
    internal void EndChange()
    {
        if (State is { } state)
            foreach (var name in _parsedNow.Where(n => !state.Files.ContainsKey(n)).ToList()) _entries.TryRemove(name, out _);
        LastParsed = [.. _parsedNow.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
    }

    /// <summary>
    /// Every unit that depends on one of <paramref name="paths"/> is parsed again by the next
    /// load: a unit file or drop-in it read, a drop-in directory it looked in (a drop-in created
    /// or removed inside it), a template it was instantiated from; and the unit the file is named
    /// after (an instance's symlink or empty file names its unit but is not read).
    /// </summary>
    public void Invalidate(IEnumerable<string> paths)
    {
        var changed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in paths)
        {
            var full = Path.GetFullPath(path);
            changed.Add(full);
            if (Path.GetDirectoryName(full) is { } parent) changed.Add(parent);
            var fileName = Path.GetFileName(full);
            if (fileName.EndsWith(UnitLoader.UnitSuffix, StringComparison.Ordinal))
                _entries.TryRemove(fileName[..^UnitLoader.UnitSuffix.Length], out _);
        }
        foreach (var (name, entry) in _entries)
            if (entry.Sources.Any(s => changed.Contains(s.Path))) _entries.TryRemove(name, out _);
    }

    /// <summary>The safety net: every entry one of whose paths changed since it was read is parsed again.</summary>
    public void DropStale()
    {
        foreach (var (name, entry) in _entries)
            if (entry.Sources.Any(s => FileSignature.Of(s.Path) != s.Signature)) _entries.TryRemove(name, out _);
    }

    public void Clear()
    {
        _entries.Clear();
        State = null;
    }
}

/// <summary>What a stat says of a path, enough to tell it was written, replaced, resized or re-moded; a directory's time changes with its entries.</summary>
public readonly record struct FileSignature(bool Exists, long WriteTicks, long Length, int Mode)
{
    public static FileSignature Of(string path)
    {
        try
        {
            FileSystemInfo info = Directory.Exists(path) ? new DirectoryInfo(path) : new FileInfo(path);
            if (!info.Exists) return default;
            return new FileSignature(true, info.LastWriteTimeUtc.Ticks, info is FileInfo f ? f.Length : 0, (int)info.UnixFileMode);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new FileSignature(true, -1, -1, -1); // cannot be looked at: differs from any state that could
        }
    }
}
