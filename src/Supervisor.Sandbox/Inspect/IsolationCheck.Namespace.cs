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
        var tmpfs = plan.Mounts.OfType<TmpfsMount>().Select(t => (Path: ServicePath(t.Target, newRoot), Mount: t)).Where(t => t.Path is not null).ToList();
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
        foreach (var (path, t) in tmpfs)
        {
            var found = mounts.LastOrDefault(m => m.MountPoint == path);
            string declared = DescribeTmpfs("tmpfs", t.ReadOnly, t.NoExec);
            string text = found.MountPoint is null ? "no mount"
                : DescribeTmpfs(found.Type, HasOption(found.Options, "ro"), HasOption(found.Options, "noexec"));
            lines.Add(new($"tmpfs {path}", declared, text, declared == text ? CheckResult.Match : CheckResult.Mismatch));
        }
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
