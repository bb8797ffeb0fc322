using Supervisor.Units.Values;

namespace Supervisor.Units.Model;

/// <summary>
/// One command line: argv as written (no shell). systemd's prefixes on the program ("-", "@",
/// ":", "+", "!", "!!"; see <see cref="ExecFlags"/>) are read once, into <see cref="IgnoreFailure"/>,
/// <see cref="Flags"/> and <see cref="Executable"/>. A bare program name ("redis-server") is
/// looked up when the unit is loaded (<see cref="ExecutableSearch"/>): <see cref="ResolvedPath"/>
/// is then the absolute path that is executed, while argv[0] stays as written, as in systemd.
/// </summary>
public sealed record Command(ValueList<string> Argv, bool IgnoreFailure)
{
    /// <summary>The absolute path found for a bare program name; null when the program is written as an absolute path.</summary>
    public string? ResolvedPath { get; init; }

    /// <summary>With "@": the program as written, while <see cref="Argv"/>[0] is the argv[0] it gets; null otherwise.</summary>
    public string? Executable { get; init; }

    /// <summary>The prefixes other than "-" (Sections.Exec.cs).</summary>
    public ExecFlags Flags { get; init; }

    /// <summary>The program as written in the unit (a bare name or an absolute path).</summary>
    public string WrittenProgram => Executable ?? Argv[0];

    /// <summary>The absolute path to execute.</summary>
    public string Program => ResolvedPath ?? WrittenProgram;
}

/// <summary>An exit status or a signal, for SuccessExitStatus and friends.</summary>
public sealed record ExitStatusSet(ValueList<int> Codes, ValueList<int> Signals)
{
    public static readonly ExitStatusSet Empty = new(ValueList<int>.Empty, ValueList<int>.Empty);
    public bool IsEmpty => Codes.Count == 0 && Signals.Count == 0;
}

/// <summary>A path with systemd's "-" prefix: ignore it when it does not exist.</summary>
public sealed record OptionalPath(string Path, bool IgnoreIfMissing)
{
    public override string ToString() => IgnoreIfMissing ? "-" + Path : Path;
}

/// <summary>
/// A BindPaths entry as written: "src[:dst[:options]]", options "rbind" (default) or "norbind".
/// The plan's resolved mount step is Supervisor.Sandbox's BindMount.
/// </summary>
public sealed record BindPath(string Source, string Destination, bool IgnoreIfMissing, bool Recursive)
{
    public override string ToString()
    {
        var s = (IgnoreIfMissing ? "-" : "") + Source;
        if (Destination != Source || !Recursive) s += ":" + Destination;
        if (!Recursive) s += ":norbind";
        return s;
    }
}

/// <summary>A capability list: an allow list, or with "~" a list of what to drop from the full set.</summary>
public sealed record CapabilitySet(ValueList<int> Capabilities, bool Invert)
{
    /// <summary>The bit mask this set allows, over every capability up to <paramref name="lastCap"/>.</summary>
    public ulong Mask(int lastCap)
    {
        ulong listed = 0;
        foreach (var c in Capabilities) listed |= 1UL << c;
        ulong all = lastCap >= 63 ? ulong.MaxValue : (1UL << (lastCap + 1)) - 1;
        return Invert ? all & ~listed : listed & all;
    }
}

/// <summary>
/// SystemCallFilter as written: entries apply in order. When the first entry starts with "~" the
/// filter is a deny list (everything else allowed); otherwise an allow list. In an allow list a
/// later "~" entry removes calls; in a deny list a later plain entry re-allows them (systemd's rule).
/// </summary>
public sealed record SyscallFilter(bool IsAllowList, ValueList<SyscallFilterEntry> Entries)
{
    /// <summary>The resulting set of syscall names (allowed for an allow list, denied for a deny list).</summary>
    public IReadOnlySet<string> Resolve()
    {
        var set = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var e in Entries)
        {
            bool add = IsAllowList ? !e.Negated : e.Negated;
            foreach (var name in e.Names)
            {
                foreach (var call in SyscallTable.Expand(name))
                {
                    if (add) set.Add(call);
                    else set.Remove(call);
                }
            }
        }
        return set;
    }
}

public sealed record SyscallFilterEntry(bool Negated, ValueList<string> Names)
{
    public override string ToString() => (Negated ? "~" : "") + string.Join(' ', Names);
}

/// <summary>
/// An LSM label as written (AppArmorProfile, SELinuxContext); a leading "-" means: skip it when the
/// LSM is not enabled on the host. The plan's label, with the LSM it is for, is Supervisor.Sandbox's LsmLabel.
/// </summary>
public sealed record OptionalLabel(string Value, bool IgnoreIfUnavailable)
{
    public override string ToString() => IgnoreIfUnavailable ? "-" + Value : Value;
}

/// <summary>A per-device IO limit: a block device path and bytes or operations per second.</summary>
public sealed record DeviceLimit(string Device, ulong Value);

/// <summary>A resource limit (setrlimit): soft and hard; ulong.MaxValue is RLIM_INFINITY.</summary>
public sealed record RLimit(ulong Soft, ulong Hard)
{
    public const ulong Infinity = ulong.MaxValue;
}

/// <summary>TasksMax: a count or infinity.</summary>
public readonly record struct TaskCount(ulong Value)
{
    public static readonly TaskCount Infinity = new(ulong.MaxValue);
    public bool IsInfinity => Value == ulong.MaxValue;
    public override string ToString() => IsInfinity ? "infinity" : Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
