using System.Collections.Immutable;
using System.Globalization;

namespace Supervisor.Linux.Proc;

/// <summary>The four ids of a "Uid:" or "Gid:" line: real, effective, saved set, filesystem.</summary>
public readonly record struct ProcIds(uint Real, uint Effective, uint Saved, uint Filesystem);

/// <summary>
/// /proc/PID/status, the fields the supervisor reads (proc(5)): identity, capability sets,
/// NoNewPrivs, seccomp, and the pid in each pid namespace. A field the kernel does not have
/// (CapAmb before 4.3, NoNewPrivs before 4.10, Seccomp_filters before 5.9, NSpid before 4.1)
/// is null, never a guess; a field that is there but malformed is a FormatException.
/// </summary>
public sealed record ProcStatus
{
    public string? Name { get; init; }
    /// <summary>The state letter ("S (sleeping)" gives 'S').</summary>
    public char? State { get; init; }
    public int? Pid { get; init; }
    public int? ParentPid { get; init; }
    public ProcIds? Uid { get; init; }
    public ProcIds? Gid { get; init; }
    /// <summary>Supplementary groups.</summary>
    public ImmutableArray<uint> Groups { get; init; } = [];
    /// <summary>The pid in each pid namespace, outermost first (the last is the pid the process sees itself).</summary>
    public ImmutableArray<int> NSpid { get; init; } = [];
    public ulong? CapInh { get; init; }
    public ulong? CapPrm { get; init; }
    public ulong? CapEff { get; init; }
    public ulong? CapBnd { get; init; }
    public ulong? CapAmb { get; init; }
    public bool? NoNewPrivs { get; init; }
    /// <summary>The file mode creation mask (octal in the file; since Linux 4.7).</summary>
    public uint? Umask { get; init; }
    /// <summary>0 off, 1 strict, 2 filter.</summary>
    public int? Seccomp { get; init; }
    public int? SeccompFilters { get; init; }
    /// <summary>Ignored signals, bit N-1 for signal N (SIGPIPE, 13, is bit 12).</summary>
    public ulong? SigIgn { get; init; }

    /// <summary>The status of <paramref name="pid"/>; throws IOException when it is gone.</summary>
    public static ProcStatus Read(int pid) => Parse(File.ReadAllText(ProcFiles.PathOf(pid, "status")));

    /// <summary>The status of <paramref name="pid"/>, or null when it is gone (or not ours to read).</summary>
    public static ProcStatus? TryRead(int pid) => ProcFiles.TryRead(pid, "status", Parse);

    /// <summary>This process's own status (/proc/self/status).</summary>
    public static ProcStatus ReadSelf() => Parse(File.ReadAllText("/proc/self/status"));

    /// <summary>Parses the text of a status file: "Key:\tvalue" lines; keys it does not use are skipped.</summary>
    public static ProcStatus Parse(string text)
    {
        var s = new ProcStatus();
        foreach (var line in text.Split('\n'))
        {
            int colon = line.IndexOf(':');
            if (colon <= 0) continue;
            s = s.With(line[..colon], line[(colon + 1)..].Trim());
        }
        return s;
    }

    private ProcStatus With(string key, string value) => key switch
    {
        "Name" => this with { Name = value },
        "Umask" => this with { Umask = Octal(key, value) },
        "State" => this with { State = value.Length > 0 ? value[0] : throw Malformed(key, value, "a state letter") },
        "Pid" => this with { Pid = ProcFiles.Int(value, "status", key) },
        "PPid" => this with { ParentPid = ProcFiles.Int(value, "status", key) },
        "Uid" => this with { Uid = Ids(key, value) },
        "Gid" => this with { Gid = Ids(key, value) },
        "Groups" => this with { Groups = [.. Numbers(value).Select(n => UInt(key, n))] },
        "NSpid" => this with { NSpid = [.. Numbers(value).Select(n => ProcFiles.Int(n, "status", key))] },
        "CapInh" => this with { CapInh = Hex(key, value) },
        "CapPrm" => this with { CapPrm = Hex(key, value) },
        "CapEff" => this with { CapEff = Hex(key, value) },
        "CapBnd" => this with { CapBnd = Hex(key, value) },
        "CapAmb" => this with { CapAmb = Hex(key, value) },
        "NoNewPrivs" => this with { NoNewPrivs = ProcFiles.Int(value, "status", key) != 0 },
        "Seccomp" => this with { Seccomp = ProcFiles.Int(value, "status", key) },
        "Seccomp_filters" => this with { SeccompFilters = ProcFiles.Int(value, "status", key) },
        "SigIgn" => this with { SigIgn = Hex(key, value) },
        _ => this,
    };

    private static uint Octal(string key, string value)
    {
        try { return Convert.ToUInt32(value.Trim(), 8); }
        catch (FormatException) { throw Malformed(key, value, "an octal mask"); }
        catch (OverflowException) { throw Malformed(key, value, "an octal mask"); }
    }

    private static string[] Numbers(string value) => value.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);

    private static ProcIds Ids(string key, string value)
    {
        var n = Numbers(value);
        if (n.Length != 4) throw Malformed(key, value, "four ids");
        return new ProcIds(UInt(key, n[0]), UInt(key, n[1]), UInt(key, n[2]), UInt(key, n[3]));
    }

    private static uint UInt(string key, string value) =>
        uint.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : throw Malformed(key, value, "an id");

    private static ulong Hex(string key, string value) =>
        ulong.TryParse(value, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var v) ? v : throw Malformed(key, value, "a hex mask");

    private static FormatException Malformed(string key, string value, string expected) =>
        new($"/proc status: {key} is \"{value}\", expected {expected}");
}
