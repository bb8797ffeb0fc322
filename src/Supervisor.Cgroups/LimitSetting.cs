using System.Globalization;
using Supervisor.Linux;
using Supervisor.Linux.Native;

namespace Supervisor.Cgroups;

/// <summary>
/// One declared value for one cgroup file: how to find the current value in the file's text, the
/// declared value in the same normalised form, and the string(s) to write. Comparing normalised
/// forms is what lets Apply skip unchanged values and lets the drift check ignore the kernel's own
/// rewriting (page rounding, "-1" read back as 9223372036854771712, "0,1,2,3" read back as "0-3").
/// </summary>
internal sealed class LimitSetting
{
    public LimitSetting(string key, string file, string declared, Func<string, string> current, params string[] writes)
    {
        Key = key;
        File = file;
        Declared = declared;
        Current = current;
        Writes = writes;
    }

    public string Key { get; }

    /// <summary>Full path of the cgroup file.</summary>
    public string File { get; }

    /// <summary>The declared value, normalised.</summary>
    public string Declared { get; }

    /// <summary>Normalised current value, from the file's whole text.</summary>
    public Func<string, string> Current { get; }

    /// <summary>What to write, one write() each.</summary>
    public IReadOnlyList<string> Writes { get; }

    /// <summary>
    /// For a setting read from one file and written through others (v1 devices.list, changed through
    /// devices.allow and devices.deny): the writes that turn the file's current text into the
    /// declared value. Null: <see cref="Writes"/> into <see cref="File"/>.
    /// </summary>
    public Func<string, IReadOnlyList<(string File, string Value)>>? Plan { get; init; }

    /// <summary>The files whose writes can change this value (watched for drift).</summary>
    public IReadOnlyList<string> WatchFiles => Plan is null ? [File] : WrittenFiles;

    /// <summary>With a <see cref="Plan"/>: every file it may write.</summary>
    public IReadOnlyList<string> WrittenFiles { get; init; } = [];

    /// <summary>A single-value file: the whole text, normalised by <paramref name="normalise"/>.</summary>
    public static LimitSetting Simple(string key, string file, string write, Func<string, string> normalise)
        => new(key, file, normalise(write), text => normalise(text.Trim()), write);
}

/// <summary>Read-compare-write over a list of settings; the same comparison drives the drift check.</summary>
internal static class LimitEngine
{
    public static List<LimitChange> Apply(CgroupFs fs, IReadOnlyList<LimitSetting> settings)
    {
        var changes = new List<LimitChange>();
        var deferred = new List<(LimitSetting Setting, CgroupIoException Error)>();
        foreach (var s in settings)
        {
            try
            {
                ApplyOne(fs, s, changes);
            }
            catch (CgroupIoException e) when (e.ErrorNumber is Errno.EINVAL or Errno.EBUSY)
            {
                // Paired limits must stay ordered at every instant (v1 memory.limit_in_bytes must not
                // exceed memory.memsw.limit_in_bytes): when raising both, the first write is refused
                // until the second has gone in. Retry once after the rest.
                deferred.Add((s, e));
            }
        }
        foreach (var (s, _) in deferred)
        {
            ApplyOne(fs, s, changes);
        }
        return changes;
    }

    private static void ApplyOne(CgroupFs fs, LimitSetting s, List<LimitChange> changes)
    {
        var text = CgroupFs.ReadText(s.File);
        var current = s.Current(text);
        if (current == s.Declared)
        {
            return;
        }
        var writes = s.Plan?.Invoke(text) ?? s.Writes.Select(w => (s.File, w)).ToList();
        foreach (var (file, w) in writes)
        {
            try
            {
                fs.Write(file, w);
            }
            catch (CgroupIoException e)
            {
                // Name the key: "write '…/memory.limit_in_bytes' failed: EBUSY (MemoryMax = "1048576"…)".
                throw new CgroupIoException(e.Operation, e.Path, e.ErrorNumber, $"{s.Key} = \"{w}\"{Hint(file, e.ErrorNumber)}");
            }
        }
        changes.Add(new LimitChange(s.Key, s.File, current, s.Declared));
    }

    private static string Hint(string file, int errno) => (Path.GetFileName(file), errno) switch
    {
        ("memory.limit_in_bytes", Errno.EBUSY) => "; v1 refuses a memory limit below the current usage",
        ("memory.memsw.limit_in_bytes", Errno.EINVAL) or ("memory.limit_in_bytes", Errno.EINVAL) => "; v1 needs memory.limit_in_bytes <= memory.memsw.limit_in_bytes",
        ("cpu.cfs_quota_us", Errno.EINVAL) => "; v1 refuses a child quota above its parent's",
        ("cpuset.cpus", _) or ("cpuset.mems", _) => "; a cpuset must stay within its parent's",
        ("devices.allow", Errno.EPERM) => "; a v1 devices cgroup cannot allow what its parent denies",
        _ => "",
    };

    public static List<LimitDrift> Check(IReadOnlyList<LimitSetting> settings)
    {
        var drifts = new List<LimitDrift>();
        foreach (var s in settings)
        {
            var text = CgroupFs.TryReadText(s.File, out var errno);
            if (text is null)
            {
                throw new CgroupIoException("read", s.File, errno);
            }
            var current = s.Current(text);
            if (current != s.Declared)
            {
                drifts.Add(new LimitDrift(s.Key, s.File, s.Declared, current));
            }
        }
        return drifts;
    }
}

/// <summary>Value spellings and their normal forms.</summary>
internal static class Values
{
    public static string U(ulong v) => v.ToString(CultureInfo.InvariantCulture);

    public static string L(long v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Memory limit normal form: "max" for unlimited (v2 "max", v1 "-1" or PAGE_COUNTER_MAX pages),
    /// else bytes rounded down to a page, which is what the kernel stores.
    /// </summary>
    public static string NormaliseMemory(string text)
    {
        text = text.Trim();
        if (text is "max" or "-1")
        {
            return "max";
        }
        if (!ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var bytes))
        {
            return text;
        }
        var page = (ulong)CgroupConstants.PageSize;
        return bytes >= (ulong)CgroupConstants.V1Unlimited ? "max" : U(bytes / page * page);
    }

    /// <summary>"max" and numbers; v1 pids.max and cfs_quota use "max" / "-1".</summary>
    public static string NormaliseCount(string text)
    {
        text = text.Trim();
        return text is "-1" ? "max" : text;
    }

    /// <summary>Weight files that read back as "default N" (io.weight, io.bfq.weight) normalise to "N".</summary>
    public static string NormaliseDefaultWeight(string text)
    {
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var t = line.Trim();
            if (t.StartsWith("default ", StringComparison.Ordinal))
            {
                return t["default ".Length..].Trim();
            }
            if (!t.Contains(' ', StringComparison.Ordinal))
            {
                return t;
            }
        }
        return text.Trim();
    }

    public static string NormaliseCpuSet(string text)
        => CpuSet.TryParse(text, out var set, out _) ? set.ToString() : text.Trim();

    public static string MemoryV2(Limit limit) => limit.IsInfinity ? "max" : U(limit.Value);

    public static string MemoryV1(Limit limit) => limit.IsInfinity ? "-1" : U(limit.Value);

    public static string CountV2(Limit limit) => limit.IsInfinity ? "max" : U(limit.Value);

    public static ulong? ParseOptionalU64(string text)
        => ulong.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : null;
}
