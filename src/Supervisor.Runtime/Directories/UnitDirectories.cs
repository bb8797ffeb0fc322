using System.Collections.Concurrent;
using Supervisor.Sandbox;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Directories;

/// <summary>
/// When the per-unit directories and credentials are made and removed. Before every command of
/// a unit (systemd sets them up in each spawned process too) the directories are created or
/// fixed up, owned by the user that command runs as; the first command of a start (the first
/// ExecStartPre, else ExecStart) writes the credentials afresh, and with
/// RuntimeDirectoryPreserve=no first removes a RuntimeDirectory an earlier run left (systemd
/// removes it whenever the service stops, a restart included). When the unit is down for good
/// the RuntimeDirectory goes unless Preserve=yes, and the credentials always go.
///
/// Several units may name the same directory: each start fixes its owner and mode for itself,
/// and the first of them to stop removes a shared RuntimeDirectory, as systemd does.
/// </summary>
public sealed class UnitDirectories(Action<string, string> log)
{
    /// <summary>Units prepared since their last release: only their leftovers are removed at a new start.</summary>
    private readonly ConcurrentDictionary<string, byte> _prepared = new(StringComparer.Ordinal);

    /// <summary>Whether COMMAND of PHASE (null: ExecStart) is the first command of a start.</summary>
    public static bool IsFirstOfStart(UnitDefinition unit, bool startPre, Command? command)
    {
        var pre = unit.Service.ExecStartPre;
        if (!startPre) return pre.Count == 0;
        return pre.Count > 0 && command is not null && (ReferenceEquals(pre[0], command) || (pre[0] == command && !pre.Skip(1).Contains(command)));
    }

    /// <summary>Before a command that runs as EXEC's identity; <paramref name="first"/>: the first command of a start.</summary>
    public void BeforeCommand(UnitDefinition unit, ExecPlan exec, bool first)
    {
        var service = unit.Service;
        if (!service.ManagedDirectories().Any() && !service.HasCredentials) return;
        var (uid, gid) = HostIds(exec);
        if (first && _prepared.ContainsKey(unit.Name) && service.RuntimeDirectoryPreserve == RuntimeDirectoryPreserve.No)
            ExecDirectories.RemoveRuntime(unit, log);
        ExecDirectories.Create(unit, uid, gid);
        if (service.HasCredentials && (first || !CredentialFiles.Present(unit)))
        {
            try
            {
                if (CredentialFiles.Write(unit, uid, gid) is { } note) log(unit.Name, note);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new PlanCompileException(unit.Name, "LoadCredential", $"{unit.Name}: cannot write its credentials to '{ServiceSection.CredentialsDirectoryOf(unit.Name)}': {e.Message}");
            }
        }
        _prepared[unit.Name] = 1;
    }

    /// <summary>The unit is down for good (no restart pending).</summary>
    public void Released(UnitDefinition unit)
    {
        _prepared.TryRemove(unit.Name, out _);
        if (unit.Service.RuntimeDirectoryPreserve != RuntimeDirectoryPreserve.Yes)
            ExecDirectories.RemoveRuntime(unit, log);
        if (!unit.Service.HasCredentials && !CredentialFiles.Present(unit)) return;
        try
        {
            CredentialFiles.Remove(unit);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log(unit.Name, $"cannot remove its credentials '{ServiceSection.CredentialsDirectoryOf(unit.Name)}': {e.Message}");
        }
    }

    /// <summary>The host uid and gid of the command's identity (root when it has none), through a user namespace's maps.</summary>
    internal static (uint Uid, uint Gid) HostIds(ExecPlan exec)
    {
        uint uid = exec.Identity?.Uid ?? 0, gid = exec.Identity?.Gid ?? 0;
        return (Outside(exec.UidMap, uid), Outside(exec.GidMap, gid));
    }

    private static uint Outside(IEnumerable<IdMapEntry> map, uint id)
    {
        foreach (var e in map)
            if (id >= e.Inside && id - e.Inside < e.Count) return e.Outside + (id - e.Inside);
        return id;
    }
}
