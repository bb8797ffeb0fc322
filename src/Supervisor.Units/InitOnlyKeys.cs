using Supervisor.Units.Syntax;

namespace Supervisor.Units;

/// <summary>
/// systemd keys that only mean something to an init system: the [Install] section (read by
/// `systemctl enable`) and [Unit] keys about default dependencies, isolation and job timeouts.
/// A unit file that carries them over from systemd is accepted, with one warning per file that
/// names them and says they have no effect here: Supervisor starts every unit of its directory,
/// adds no implicit dependencies and has no isolate or job queue to time out.
/// </summary>
public static class InitOnlyKeys
{
    public const string InstallSection = "Install";

    private static readonly HashSet<string> UnitKeys = new(StringComparer.Ordinal)
    {
        "DefaultDependencies", "IgnoreOnIsolate", "AllowIsolate", "CollectMode", "SourcePath",
        "JobTimeoutSec", "JobRunningTimeoutSec", "JobTimeoutAction", "JobTimeoutRebootArgument",
    };

    public static bool IsInitOnly(string section, string key) =>
        section == InstallSection || section == "Unit" && UnitKeys.Contains(key);

    /// <summary>One warning at the first such key of the file, naming all of them.</summary>
    public static Diagnostic? Warning(string unit, IReadOnlyList<(string Section, TomlEntry Entry)> found)
    {
        if (found.Count == 0) return null;
        var first = found[0];
        var names = string.Join(", ", found.Select(f => $"[{f.Section}] {f.Entry.Key}").Distinct());
        return new Diagnostic(Severity.Warning, first.Entry.KeyLocation, unit, first.Section, first.Entry.Key,
            $"init-only keys have no effect here and are ignored: {names} (Supervisor starts every unit of its directory, " +
            "adds no default dependencies and has no isolate or job timeouts)");
    }
}
