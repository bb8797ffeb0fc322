using System.Collections.Concurrent;
using System.Globalization;
using Supervisor.Sandbox;
using Supervisor.Sandbox.Compiler;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Credentials;

/// <summary>
/// Who each unit runs as, from its start to its stop: DynamicUser's uid/gid pair handed to the
/// compiler (allocated when the unit starts, taken over with an adopted process, released when
/// the unit stops), and RemoveIPC carried out once the unit's last process is gone. The uid and
/// gid of every running unit are kept here too, because IPC objects are removed by owner: those of
/// a uid another running unit still uses are left alone (systemd counts references the same way).
/// </summary>
public sealed class UnitIdentities(DynamicUsers dynamic, IpcObjects ipc, Action<string, string> log)
{
    private readonly ConcurrentDictionary<string, (uint Uid, uint Gid)> _running = new(StringComparer.Ordinal);

    public DynamicUsers Dynamic => dynamic;

    /// <summary>
    /// <paramref name="context"/> with the unit's DynamicUser pair; with <paramref name="allocate"/>
    /// (a process is about to start) one is allocated when the unit holds none. Unchanged for a
    /// unit without DynamicUser, or one whose user exists in /etc/passwd (used as it is).
    /// </summary>
    public CompileContext ContextFor(UnitDefinition unit, CompileContext context, bool allocate)
    {
        if (ExecPlanCompiler.DynamicUserToAllocate(unit, context.Users) is not { } name) return context;
        var pair = dynamic.Of(unit.Name);
        if ((pair is null || pair.Name != name) && allocate)
        {
            try
            {
                pair = dynamic.Acquire(unit.Name, name, context.Users);
                log(unit.Name, $"DynamicUser: uid and gid {pair.Uid} allocated to user '{name}'");
            }
            catch (DynamicUserException e)
            {
                throw new PlanCompileException(unit.Name, "DynamicUser", $"{unit.Name}: {e.Message}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new PlanCompileException(unit.Name, "DynamicUser", $"{unit.Name}: DynamicUser: cannot record the allocation in '{dynamic.FilePath}': {e.Message}");
            }
        }
        return pair is not null && pair.Name == name ? context with { DynamicUser = pair } : context;
    }

    /// <summary>A process of the unit is about to run as <paramref name="identity"/> (null: root).</summary>
    public void Started(string unit, Identity? identity) => _running[unit] = (identity?.Uid ?? 0, identity?.Gid ?? 0);

    /// <summary>
    /// A process left running by a previous supervisor is adopted: what it runs as is read from
    /// /proc, and a DynamicUser unit whose pair the state directory lost gets it back from there.
    /// </summary>
    public void Adopted(UnitDefinition unit, int pid, CompileContext context)
    {
        if (ReadIds(pid) is not { } ids) return;
        _running[unit.Name] = ids;
        if (ExecPlanCompiler.DynamicUserToAllocate(unit, context.Users) is { } name && dynamic.Of(unit.Name)?.Name != name
            && ids.Uid is >= ExecPlanCompiler.DynamicUidMin and <= ExecPlanCompiler.DynamicUidMax)
        {
            try
            {
                dynamic.Restore(unit.Name, new DynamicUserAllocation(name, ids.Uid, ids.Gid));
                log(unit.Name, $"DynamicUser: uid {ids.Uid} taken over from the adopted process {pid}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                log(unit.Name, $"DynamicUser: cannot record uid {ids.Uid} of the adopted process {pid} in '{dynamic.FilePath}': {e.Message}");
            }
        }
    }

    /// <summary>uid and gid the unit's processes run as while it is up (null when it is not).</summary>
    public (uint Uid, uint Gid)? RunningAs(string unit) => _running.TryGetValue(unit, out var ids) ? ids : null;

    /// <summary>
    /// The unit is down for good. With its cgroup empty (<paramref name="empty"/>), its IPC objects
    /// go (RemoveIPC) and its dynamic pair is released. Processes left on purpose (KillMode=process)
    /// still run as its uid: both stay until a later stop finds the cgroup empty.
    /// </summary>
    public void Stopped(UnitDefinition unit, bool empty)
    {
        bool ran = _running.TryGetValue(unit.Name, out var ids);
        var pair = dynamic.Of(unit.Name);
        if (!empty)
        {
            if (pair is not null || (ran && unit.Sandbox.WithImplications().RemoveIPC))
                log(unit.Name, "processes of the unit are left in its cgroup: its IPC objects and its dynamic uid stay until they are gone and the unit stops again");
            return;
        }
        _running.TryRemove(unit.Name, out _);
        if (ran && unit.Sandbox.WithImplications().RemoveIPC) RemoveIpc(unit.Name, ids);
        if (pair is null) return;
        log(unit.Name, dynamic.Release(unit.Name) is { } freed ? $"DynamicUser: uid {freed.Uid} of '{freed.Name}' released"
            : $"DynamicUser: uid {pair.Uid} of '{pair.Name}' stays with the other units of that user");
    }

    /// <summary>The pairs of units that are no longer declared and whose uid no process uses, released at start.</summary>
    public void Prune(Func<string, bool> declared)
    {
        HashSet<uint>? inUse = null;
        foreach (var (unit, pair) in dynamic.Prune((unit, pair) => declared(unit) || (inUse ??= ProcessUids()).Contains(pair.Uid)))
            log(unit, $"DynamicUser: the unit is gone and nothing runs as uid {pair.Uid}: it no longer holds the user '{pair.Name}'");
    }

    private void RemoveIpc(string unit, (uint Uid, uint Gid) ids)
    {
        // Never root's objects (systemd: "Never clean the root user's IPC"), nor those of an id
        // another running unit still uses.
        uint? uid = ids.Uid == 0 || _running.Values.Any(o => o.Uid == ids.Uid) ? null : ids.Uid;
        uint? gid = ids.Gid == 0 || _running.Values.Any(o => o.Gid == ids.Gid) ? null : ids.Gid;
        if (uid is null && gid is null)
        {
            log(unit, ids is { Uid: 0, Gid: 0 } ? "RemoveIPC: nothing removed: the unit runs as root, whose IPC objects are never removed"
                : $"RemoveIPC: nothing removed: another running unit uses uid {ids.Uid} and gid {ids.Gid}");
            return;
        }
        var removed = new Dictionary<IpcKind, int>();
        var failures = new List<string>();
        foreach (var o in ipc.OwnedBy(uid, gid))
        {
            // A segment still attached belongs to a process that is not this unit's (it has stopped).
            if (o.Kind == IpcKind.SharedMemory && o.Attached > 0) continue;
            if (IpcObjects.Remove(o) is { } error) failures.Add($"{Describe(o.Kind)} {o.Id}: {error}");
            else removed[o.Kind] = removed.GetValueOrDefault(o.Kind) + 1;
        }
        int N(IpcKind k) => removed.GetValueOrDefault(k);
        var owner = string.Join(" and ", new[] { uid is { } u ? $"uid {u}" : null, gid is { } g ? $"gid {g}" : null }.OfType<string>());
        log(unit, $"RemoveIPC: removed {N(IpcKind.SharedMemory)} System V shared memory segment(s), {N(IpcKind.Semaphores)} semaphore set(s), " +
            $"{N(IpcKind.MessageQueue)} message queue(s), {N(IpcKind.PosixSharedMemory)} POSIX shared memory object(s) and {N(IpcKind.PosixMessageQueue)} " +
            $"POSIX message queue(s) of {owner}" + (ipc.MessageQueueMount is null ? " (POSIX message queues not looked for: no mqueue file system is mounted)" : "") +
            (failures.Count > 0 ? $"; could not remove {string.Join(", ", failures)}" : ""));
    }

    private static string Describe(IpcKind kind) => kind switch
    {
        IpcKind.SharedMemory => "shared memory segment",
        IpcKind.Semaphores => "semaphore set",
        IpcKind.MessageQueue => "message queue",
        IpcKind.PosixSharedMemory => "POSIX shared memory",
        _ => "POSIX message queue",
    };

    /// <summary>Real uid and gid of a process ("Uid:" and "Gid:" of /proc/PID/status), or null when it is gone.</summary>
    private static (uint Uid, uint Gid)? ReadIds(int pid)
    {
        try
        {
            uint? uid = null, gid = null;
            foreach (var line in File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status"))
            {
                if (line.StartsWith("Uid:", StringComparison.Ordinal)) uid = FirstId(line);
                else if (line.StartsWith("Gid:", StringComparison.Ordinal)) gid = FirstId(line);
            }
            return uid is { } u && gid is { } g ? (u, g) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static uint FirstId(string line) =>
        uint.Parse(line[4..].Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[0], CultureInfo.InvariantCulture);

    /// <summary>Every real and effective uid of the host's processes (once, at start).</summary>
    private static HashSet<uint> ProcessUids()
    {
        var uids = new HashSet<uint>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out _)) continue;
            try
            {
                var line = File.ReadLines(Path.Combine(dir, "status")).FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal));
                if (line is null) continue;
                foreach (var id in line[4..].Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries).Take(2))
                    uids.Add(uint.Parse(id, CultureInfo.InvariantCulture));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process exited while /proc was read.
            }
        }
        return uids;
    }
}
