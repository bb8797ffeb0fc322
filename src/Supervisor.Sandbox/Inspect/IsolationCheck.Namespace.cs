using System.Collections.Immutable;
using System.Globalization;

namespace Supervisor.Sandbox.Inspect;

public static partial class IsolationCheck
{
    /// <summary>
    /// The user namespace's id maps (PrivateUsers, or "user" in Namespaces) from /proc/PID/uid_map
    /// and gid_map, and from /proc/PID/mountinfo the noexec attribute of every NoExecPaths and
    /// ExecPaths entry and every tmpfs the plan mounts (TemporaryFileSystem, PrivateTmp,
    /// ProtectHome="tmpfs"): type, read-only, noexec.
    /// </summary>
    private static void CompareNamespaceView(ExecPlan plan, IsolationState state, ImmutableArray<InspectLine>.Builder lines)
    {
        if (!plan.UidMap.IsDefaultOrEmpty)
            lines.Add(Eq("uid_map", FormatMap(plan.UidMap), ReadMap(state.Pid, "uid_map")));
        if (!plan.GidMap.IsDefaultOrEmpty)
            lines.Add(Eq("gid_map", FormatMap(plan.GidMap), ReadMap(state.Pid, "gid_map")));

        var newRoot = plan.Mounts.OfType<PivotRootOperation>().LastOrDefault()?.NewRoot;
        var execAttributes = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var e in plan.Mounts.OfType<ExecAttributeMount>())
            if (!(e.Optional && !Directory.Exists(e.Path) && !File.Exists(e.Path)) && ServicePath(e.Path, newRoot) is { } seen)
                execAttributes[seen] = e.NoExec;
        var tmpfs = plan.Mounts.Select((m, i) => (Op: m as TmpfsMount, Index: i)).Where(t => t.Op is not null)
            .Select(t => (Path: ServicePath(t.Op!.Target, newRoot), Flags: EffectiveFlags(plan, t.Index))).Where(t => t.Path is not null).ToList();
        if (execAttributes.Count == 0 && tmpfs.Count == 0)
            return;

        var mounts = ReadMountTypes(state.Pid);
        foreach (var (path, noexec) in execAttributes)
        {
            var found = mounts.LastOrDefault(m => m.MountPoint == path);
            string text = found.MountPoint is null ? "no mount" : HasOption(found.Options, "noexec") ? "noexec" : "executable";
            lines.Add(new($"exec {path}", noexec ? "noexec" : "executable", text,
                text == (noexec ? "noexec" : "executable") ? CheckResult.Match : CheckResult.Mismatch));
        }
        foreach (var (path, flags) in tmpfs)
        {
            var found = mounts.LastOrDefault(m => m.MountPoint == path);
            string declared = DescribeTmpfs("tmpfs", flags.ReadOnly, flags.NoExec);
            string text = found.MountPoint is null ? "no mount"
                : DescribeTmpfs(found.Type, HasOption(found.Options, "ro"), HasOption(found.Options, "noexec"));
            lines.Add(new($"tmpfs {path}", declared, text, declared == text ? CheckResult.Match : CheckResult.Mismatch));
        }
    }

    /// <summary>
    /// The read-only and noexec attributes the tmpfs of operation INDEX ends up with: those of
    /// every later operation that reaches it (a recursive remount or NoExecPaths of a path above
    /// it: NoExecPaths=/ makes the private /tmp noexec too), and its own read-only last.
    /// </summary>
    private static (bool ReadOnly, bool NoExec) EffectiveFlags(ExecPlan plan, int index)
    {
        var t = (TmpfsMount)plan.Mounts[index];
        bool ro = false, noexec = t.NoExec;
        bool Reaches(string path, bool recursive) =>
            path == t.Target || (recursive && (path == "/" || t.Target.StartsWith(path.TrimEnd('/') + "/", StringComparison.Ordinal)));
        foreach (var m in plan.Mounts.Skip(index + 1))
        {
            if (m is ExecAttributeMount e && Reaches(e.Path, e.Recursive))
                noexec = e.NoExec;
            else if (m is RemountMount r && Reaches(r.Path, r.Recursive))
                ro = r.ReadOnly;
        }
        // The helper seals a read-only tmpfs after every other operation (so mount points can be made in it).
        return (t.ReadOnly || ro, noexec);
    }

    private static string DescribeTmpfs(string type, bool readOnly, bool noexec) =>
        $"{type} {(readOnly ? "read-only" : "read-write")}{(noexec ? " noexec" : "")}";

    private static string FormatMap(IEnumerable<IdMapEntry> map) =>
        string.Join("; ", map.Select(e => string.Create(CultureInfo.InvariantCulture, $"{e.Inside} {e.Outside} {e.Count}")));

    /// <summary>/proc/PID/uid_map as "inside outside count" entries joined by "; ", or why it cannot be read.</summary>
    private static string ReadMap(int pid, string file)
    {
        try
        {
            return string.Join("; ", File.ReadAllLines($"/proc/{pid}/{file}")
                .Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries)))
                .Where(l => l.Length > 0));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"(unreadable: {e.Message})";
        }
    }

    /// <summary>/proc/PID/mountinfo: mount point (as the process sees it), per-mount options, filesystem type.</summary>
    private static List<(string MountPoint, string Options, string Type)> ReadMountTypes(int pid)
    {
        try
        {
            return [.. File.ReadAllLines($"/proc/{pid}/mountinfo").Select(l =>
            {
                var f = l.Split(' ');
                int dash = Array.IndexOf(f, "-", 6);
                return (Unescape(f[4]), f[5], dash > 0 && dash + 1 < f.Length ? f[dash + 1] : "?");
            })];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    private static string Unescape(string s) =>
        s.Replace("\\040", " ").Replace("\\011", "\t").Replace("\\012", "\n").Replace("\\134", "\\");
}
