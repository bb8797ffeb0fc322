using System.Collections.Immutable;
using System.Globalization;
using Supervisor.Sandbox.Capabilities;

namespace Supervisor.Sandbox.Inspect;

public enum CheckResult
{
    Match,
    Mismatch,
    /// <summary>Not applied on purpose (an LSM label with "-" on a host without that LSM).</summary>
    Skipped,
    /// <summary>Reported for the reader; nothing was declared to compare with.</summary>
    Info,
    /// <summary>Declared, but this host cannot give it (a capability the supervisor itself lacks): not drift, and not a match either.</summary>
    Unavailable,
}

/// <summary>One line of `supervisor inspect`: a property, what the plan declares, what the process has.</summary>
public sealed record InspectLine(string Property, string Declared, string Found, CheckResult Result)
{
    public override string ToString() =>
        $"{(Result switch { CheckResult.Match => "ok  ", CheckResult.Mismatch => "DIFF", CheckResult.Skipped => "skip", CheckResult.Unavailable => "lack", _ => "    " })} {Property}: declared {Declared}, found {Found}";
}

/// <summary>
/// Compares a live process's <see cref="IsolationState"/> with the <see cref="ExecPlan"/> it was
/// started from. The reconciler treats any Mismatch as sandbox drift.
/// </summary>
public static partial class IsolationCheck
{
    private static readonly (string Kind, NamespaceFlags Flag)[] NamespaceFlagsByKind =
        [.. Supervisor.Linux.NamespaceKind.All.Select(k => (k.ProcName, (NamespaceFlags)k.CloneFlag))];

    public static ImmutableArray<InspectLine> Compare(ExecPlan plan, IsolationState state, IReadOnlyCollection<LsmKind>? skippedLsm = null)
    {
        var lines = ImmutableArray.CreateBuilder<InspectLine>();
        CompareNamespaces(plan, state, lines);
        CompareCgroups(plan, state, lines);
        CompareCredentials(plan, state, lines);
        CompareIdentity(plan, state, lines);
        CompareProcess(plan, state, lines);
        CompareLsm(plan, state, skippedLsm, lines);
        CompareFilesystem(plan, state, lines);
        CompareKernelSurface(plan, state, lines);
        CompareLandlock(plan, lines);
        CompareNamespaceView(plan, state, lines);
        if (plan.Hostname is { } host)
            lines.Add(Eq("hostname", host, state.Hostname ?? "(unreadable)"));
        return lines.ToImmutable();
    }

    private static void CompareNamespaces(ExecPlan plan, IsolationState state, ImmutableArray<InspectLine>.Builder lines)
    {
        foreach (var (kind, flag) in NamespaceFlagsByKind)
        {
            if (!state.Namespaces.ContainsKey(kind))
                continue;
            bool declaredNew = (plan.Namespaces & flag) != 0;
            string found = state.InNewNamespace(kind) ? $"own ({kind}:[{state.Namespaces[kind]}])" : "host";
            if (kind == "net" && plan.NetworkNamespacePath is { } netns)
            {
                var want = InodeOf(netns);
                bool same = want is not null && want == state.Namespaces[kind];
                lines.Add(new($"namespace {kind}", $"joined '{netns}'", found, same ? CheckResult.Match : CheckResult.Mismatch));
                continue;
            }
            lines.Add(new($"namespace {kind}", declaredNew ? "own" : "host", found,
                declaredNew == state.InNewNamespace(kind) ? CheckResult.Match : CheckResult.Mismatch));
        }
    }

    private static void CompareCgroups(ExecPlan plan, IsolationState state, ImmutableArray<InspectLine>.Builder lines)
    {
        foreach (var join in plan.CgroupJoins)
        {
            var expected = ExpectedCgroupLine(join.Directory);
            bool ok = state.Cgroups.Any(l => Matches(l, expected));
            lines.Add(new("cgroup", $"{expected.Controller}:{expected.Path}", string.Join(" ", state.Cgroups.Where(l => SameHierarchy(l, expected))),
                ok ? CheckResult.Match : CheckResult.Mismatch));
        }
    }

    /// <summary>
    /// uid, gid, the five capability sets, no_new_privs, seccomp: what the kernel guarantees, not
    /// equality with the start state. A daemon may narrow its own credentials (memcached starts as
    /// root and setuid()s to its user, which empties its permitted set; a process may set
    /// no_new_privs or add a seccomp filter of its own), so only the bounding set must be equal,
    /// and the other sets must hold nothing beyond the declaration.
    /// </summary>
    private static void CompareCredentials(ExecPlan plan, IsolationState state, ImmutableArray<InspectLine>.Builder lines)
    {
        if (plan.Identity is { } id)
        {
            // Started as root with CAP_SETUID/CAP_SETGID, the process may switch to a user of its own choosing.
            lines.Add(Id("uid", id.Uid, state.Uid, id.Uid == 0 && MayUse(plan, CapSetuid)));
            lines.Add(Id("gid", id.Gid, state.Gid, id.Uid == 0 && MayUse(plan, CapSetgid)));
        }

        if (plan.Capabilities is { } caps)
        {
            lines.Add(Caps("CapBnd", caps.Bounding, state.CapBnd));
            lines.Add(AtMost("CapPrm", caps.Permitted, state.CapPrm));
            lines.Add(AtMost("CapEff", caps.Effective, state.CapEff));
            lines.Add(AtMost("CapInh", caps.Inheritable, state.CapInh));
            lines.Add(AtMost("CapAmb", caps.Ambient, state.CapAmb));
        }

        // Set means set for good; unset means the process may still set it itself.
        lines.Add(new("NoNewPrivs", plan.NoNewPrivileges ? "1" : "0", state.NoNewPrivs ? "1" : "0",
            !plan.NoNewPrivileges || state.NoNewPrivs ? CheckResult.Match : CheckResult.Mismatch));

        bool filter = !plan.SeccompBpf.IsDefaultOrEmpty;
        lines.Add(new("Seccomp", filter ? "filter (mode 2)" : "none (mode 0)",
            $"mode {state.SeccompMode}, {state.SeccompFilters} filter(s)",
            !filter || (state.SeccompMode == 2 && state.SeccompFilters >= 1) ? CheckResult.Match : CheckResult.Mismatch));
    }

    private static void CompareLsm(ExecPlan plan, IsolationState state, IReadOnlyCollection<LsmKind>? skippedLsm, ImmutableArray<InspectLine>.Builder lines)
    {
        if (plan.Lsm is { } lsm)
        {
            string declared = $"{lsm.Kind} '{lsm.Value}'";
            if (skippedLsm?.Contains(lsm.Kind) == true)
                lines.Add(new("LSM label", declared, $"skipped: {lsm.Kind} is not enabled on this host", CheckResult.Skipped));
            else
                lines.Add(new("LSM label", declared, state.LsmLabel ?? "(none)",
                    state.LsmLabel is { } l && (l == lsm.Value || l.StartsWith(lsm.Value + " ", StringComparison.Ordinal)) ? CheckResult.Match : CheckResult.Mismatch));
        }
        else if (state.LsmLabel is { } label)
        {
            lines.Add(new("LSM label", "(none)", label, CheckResult.Info));
        }
    }

    /// <summary>The root (pivot_root or the host's), every declared read-only/read-write path, the mount count.</summary>
    private static void CompareFilesystem(ExecPlan plan, IsolationState state, ImmutableArray<InspectLine>.Builder lines)
    {
        var pivot = plan.Mounts.OfType<PivotRootOperation>().LastOrDefault();
        lines.Add(new("root", pivot is null ? "host /" : $"'{pivot.NewRoot}' (pivot_root)", state.RootIsHostRoot ? "host /" : "own root",
            (pivot is null) == state.RootIsHostRoot ? CheckResult.Match : CheckResult.Mismatch));

        foreach (var (path, readOnly) in DeclaredReadOnly(plan, pivot?.NewRoot))
        {
            var mount = state.Mounts.LastOrDefault(m => m.MountPoint == path);
            string found = mount.MountPoint is null ? "no mount" : (HasOption(mount.Options, "ro") ? "read-only" : "read-write");
            lines.Add(new($"mount {path}", readOnly ? "read-only" : "read-write", found,
                mount.MountPoint is not null && HasOption(mount.Options, "ro") == readOnly ? CheckResult.Match : CheckResult.Mismatch));
        }
        lines.Add(new("mounts", "-", state.Mounts.Length.ToString(CultureInfo.InvariantCulture), CheckResult.Info));
    }

    private static InspectLine Eq(string property, string declared, string found) =>
        new(property, declared, found, declared == found ? CheckResult.Match : CheckResult.Mismatch);

    private static InspectLine Caps(string property, ulong declared, ulong found) =>
        new(property, Format(declared), Format(found), declared == found ? CheckResult.Match : CheckResult.Mismatch);

    /// <summary>A set that may have shrunk since the start but never grown beyond the declaration.</summary>
    private static InspectLine AtMost(string property, ulong declared, ulong found) =>
        new(property, Format(declared), Format(found) + (found != declared && (found & ~declared) == 0 ? " (dropped by the process)" : ""),
            (found & ~declared) == 0 ? CheckResult.Match : CheckResult.Mismatch);

    private static string Format(ulong mask)
    {
        var names = CapabilityTable.NamesOf(mask).ToList();
        string list = names.Count == 0 ? "none" : names.Count > 6 ? $"{names.Count} capabilities" : string.Join(",", names);
        return $"{mask:x16} ({list})";
    }

    private static bool HasOption(string options, string option) => options.Split(',').Contains(option);

    /// <summary>Paths the plan makes read-only or read-write, as the service sees them (after pivot_root).</summary>
    private static IEnumerable<(string Path, bool ReadOnly)> DeclaredReadOnly(ExecPlan plan, string? newRoot)
    {
        var result = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var m in plan.Mounts)
        {
            var (path, ro, optional) = m switch
            {
                RemountMount r => (r.Path, r.ReadOnly, r.Optional),
                BindMount b => (b.Target, b.ReadOnly, b.Optional),
                _ => (null, false, false),
            };
            if (path is null || optional && !Directory.Exists(path) && !File.Exists(path))
                continue;
            var seen = ServicePath(path, newRoot);
            if (seen is not null)
                result[seen] = ro;
        }
        return result.Select(kv => (kv.Key, kv.Value));
    }

    private static string? ServicePath(string path, string? newRoot)
    {
        // The mount was made where the path leads (/var/run/redis is /run/redis): compare there.
        if (newRoot is null)
            return Supervisor.Linux.Files.RealPath.Resolve(path);
        var root = newRoot.TrimEnd('/');
        if (path == root)
            return "/";
        return path.StartsWith(root + "/", StringComparison.Ordinal) ? path[root.Length..] : null;
    }

    private static ulong? InodeOf(string path) =>
        Supervisor.Linux.Files.Statx.Identity(path)?.Ino;

    private readonly record struct CgroupLine(string Controller, string Path);

    /// <summary>/sys/fs/cgroup/memory/a/b → ("memory", "/a/b"); unified or v2 → ("", path).</summary>
    private static CgroupLine ExpectedCgroupLine(string dir)
    {
        const string Root = "/sys/fs/cgroup/";
        if (!dir.StartsWith(Root, StringComparison.Ordinal))
            return new("", dir);
        var rest = dir[Root.Length..];
        var slash = rest.IndexOf('/');
        var first = slash < 0 ? rest : rest[..slash];
        var below = slash < 0 ? "/" : rest[slash..];
        if (first == "unified")
            return new("", below);
        // A v1 hierarchy directory is named after its controllers ("memory", "cpu,cpuacct").
        if (File.Exists(Path.Combine(Root, first, "cgroup.procs")) && !File.Exists(Path.Combine(Root, "cgroup.controllers")))
            return new(first == "systemd" ? "name=systemd" : first, below);
        return new("", "/" + rest);
    }

    private static bool SameHierarchy(string line, CgroupLine want)
    {
        var parts = line.Split(':', 3);
        return parts.Length == 3 && (want.Controller.Length == 0 ? parts[0] == "0" : parts[1].Split(',').Intersect(want.Controller.Split(',')).Any());
    }

    private static bool Matches(string line, CgroupLine want) => SameHierarchy(line, want) && line.Split(':', 3)[2] == want.Path;
}
