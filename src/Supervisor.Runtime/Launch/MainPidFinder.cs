using System.Globalization;
using Supervisor.Cgroups;
using Supervisor.Linux.Proc;
using Supervisor.Runtime.Host;
using Supervisor.Runtime.Reaping;
using Supervisor.Supervision;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Launch;

/// <summary>
/// Type=forking: once the started parent has exited, the daemon's main process is the one its
/// PIDFile names, or the only process left in the unit's cgroup. It was reparented to us (we are a
/// child subreaper), so the reaper sees its exit. In a pid namespace the file holds the pid as the
/// daemon saw it; it is translated to the host's through NSpid of the cgroup's processes.
/// </summary>
internal sealed class MainPidFinder(IUnitEventSink sink, Reaper reaper, Action<string, string> log)
{
    public void Find(UnitSlot slot, UnitDefinition unit) => ThreadPool.UnsafeQueueUserWorkItem(_ =>
    {
        bool inPidNamespace = slot.Main?.HasInit ?? false;
        string? refusal = null;
        int? pid = null, inner = null;
        if (unit.Service.PIDFile is { } pidFile && ReadPidFile(pidFile) is { } named)
        {
            (pid, refusal) = Resolve(unit.Name, slot.Cgroup, pidFile, named, inPidNamespace);
            if (inPidNamespace) inner = named;
        }
        if (pid is null && refusal is null && slot.Cgroup is { } cg && cg.GetProcs() is var procs)
        {
            // Without a PIDFile: the only process left, not counting the namespace's init.
            var left = procs.Where(p => p != slot.Main?.Pid).ToList();
            if (left.Count == 1)
            {
                pid = left[0];
                if (inPidNamespace && ProcStatus.TryRead(left[0]) is { NSpid: [_, .., var own] }) inner = own;
            }
        }
        if (pid is not { } main)
        {
            sink.Post(unit.Name, new UnitEvent.SetupFailed(refusal is null
                ? $"{unit.Name}: cannot find the daemon's main process (PIDFile {unit.Service.PIDFile ?? "not set"}, and the cgroup does not hold exactly one process)"
                : $"{unit.Name}: {refusal}"));
            return;
        }
        sink.Post(unit.Name, new UnitEvent.MainPidChanged(main));
        // In a pid namespace the daemon is the init's child, not ours: its exit comes as the init's report.
        if (slot.InitReports is { } reports && inner is { } nsPid)
            reports.MainIs(nsPid, main);
        else
            reaper.Watch(main, exit => sink.Post(unit.Name, new UnitEvent.MainExited(exit, slot.OomKilledSinceStart, main)));
    }, null);

    /// <summary>
    /// The host pid the PIDFile means, or why it is refused. systemd 252 (service_load_pid_file)
    /// refuses a pid outside the unit's cgroup unless the file is owned by root; in a pid namespace
    /// the number means nothing outside it, so only a process of the cgroup can be meant.
    /// </summary>
    private (int? Pid, string? Refusal) Resolve(string unit, ICgroup? cgroup, string pidFile, int named, bool inPidNamespace)
    {
        IReadOnlyList<int> procs = cgroup is null ? [] : cgroup.GetProcs();
        if (inPidNamespace)
        {
            foreach (var p in procs)
            {
                // NSpid: the pid in each namespace from the host's down to the process's own.
                if (ProcStatus.TryRead(p) is { NSpid: [_, .., var inner] } status && inner == named) return (status.NSpid[0], null);
            }
            return (null, $"PIDFile {pidFile} names PID {named} of the unit's pid namespace, and no process of the unit has that PID there (the daemon is gone, or the file is stale)");
        }
        if (procs.Contains(named)) return (named, null);
        if (!Directory.Exists($"/proc/{named}")) return (null, $"PIDFile {pidFile} names PID {named}, which does not exist");
        // systemd's words and rule: a root-owned file may name a process outside the cgroup.
        if (OwnerOf(pidFile) != 0)
            return (null, $"New main PID {named} does not belong to service, and PID file {pidFile} is not owned by root. Refusing.");
        log(unit, $"New main PID {named} does not belong to service, but we'll accept it since PID file is owned by root.");
        return (named, null);
    }

    private static uint? OwnerOf(string path)
    {
        return Supervisor.Linux.Files.Statx.TryGet(path, follow: true, out var status, out _) ? status.Uid : null;
    }

    /// <summary>The daemon writes it just before or after its parent exits: it gets five seconds.</summary>
    private static int? ReadPidFile(string path)
    {
        for (int i = 0; i < 50; i++)
        {
            try
            {
                if (int.TryParse(File.ReadAllText(path).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p > 1) return p;
            }
            catch (IOException) { }
            Thread.Sleep(100);
        }
        return null;
    }
}
