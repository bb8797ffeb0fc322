using Supervisor.Units.Keys;
using Supervisor.Units.Model;

namespace Supervisor.Units;

/// <summary>
/// The exec plan's limits (<see cref="Limits"/>: PLAN_MAX_*) that span several keys, checked at
/// load so that a unit the helper would refuse is refused by <c>check</c> and stays
/// bad-setting, instead of failing when it starts (or taking the daemon down). The limits of
/// a single value (arguments, environment, path lengths) are checked where the value is parsed.
/// </summary>
internal static class PlanLimitChecks
{
    public static void Check(ParsedUnit parsed, ICollection<Diagnostic> diagnostics)
    {
        var u = parsed.Definition;
        if (u.Kind != UnitKind.Service) return;
        void Error(string section, string key, string message) =>
            diagnostics.Add(new Diagnostic(Severity.Error, parsed.LocationOf(section, key), u.Name, section, key, $"[{section}] {key}: {message}"));

        if (u.Service.SupplementaryGroups.Count > Limits.MaxSupplementaryGroups)
            Error(KeyTable.ServiceSection, "SupplementaryGroups",
                $"{u.Service.SupplementaryGroups.Count} groups; a service is given at most {Limits.MaxSupplementaryGroups}");
        if (MountLists(u.Sandbox) is { } problem)
            Error(KeyTable.SandboxSection, problem.Key, problem.Message);
    }

    /// <summary>
    /// Every entry of the path lists becomes one mount operation, in this order (the sandbox
    /// compiler's), each path placed under RootDirectory: their number and their bytes must fit
    /// the plan beside the operations the sandbox adds itself. The first key over a limit is named.
    /// </summary>
    private static (string Key, string Message)? MountLists(SandboxSection x)
    {
        var root = x.RootDirectory is { Length: > 1 } r ? r.TrimEnd('/') : "";
        (string Key, IEnumerable<(string? Source, string Target)> Mounts)[] lists =
        [
            ("ReadOnlyPaths", x.ReadOnlyPaths.Select(p => ((string?)null, p.Path))),
            ("ReadWritePaths", x.ReadWritePaths.Select(p => ((string?)null, p.Path))),
            ("InaccessiblePaths", x.InaccessiblePaths.Select(p => ((string?)null, p.Path))),
            ("BindPaths", x.BindPaths.Select(b => ((string?)b.Source, b.Destination))),
            ("BindReadOnlyPaths", x.BindReadOnlyPaths.Select(b => ((string?)b.Source, b.Destination))),
            ("NoExecPaths", x.NoExecPaths.Select(p => ((string?)null, p.Path))),
            ("ExecPaths", x.ExecPaths.Select(p => ((string?)null, p.Path))),
            ("TemporaryFileSystem", x.TemporaryFileSystem.Select(t => ((string?)null, t.Path))),
        ];
        var names = string.Join(", ", lists[..^1].Select(l => l.Key)) + " and " + lists[^1].Key;
        int count = 0;
        long bytes = 0;
        foreach (var (key, mounts) in lists)
        {
            foreach (var (source, target) in mounts)
            {
                int placed = ValueTypes.Bytes(root) + ValueTypes.Bytes(target);
                if (placed > Limits.MaxPathBytes)
                    return (key, $"'{target}' inside RootDirectory '{root}' is a path of {placed} bytes; a path is at most {Limits.MaxPathBytes} bytes (PATH_MAX)");
                count++;
                bytes += placed + 1 + (source is null ? 0 : ValueTypes.Bytes(source) + 1);
            }
            if (count > Limits.MaxPathMounts)
                return (key, $"{names} have {count} entries together; " +
                    $"a sandbox takes at most {Limits.MaxPathMounts} ({Limits.PlanMaxMounts} mount operations, {Limits.SandboxMountReserve} kept for its own)");
            if (bytes > Limits.MaxMountPathBytes)
                return (key, $"{names} take {bytes} bytes of paths together; " +
                    $"at most {Limits.MaxMountPathBytes} bytes fit in a service's exec plan");
        }
        return null;
    }
}
