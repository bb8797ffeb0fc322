using System.Collections.Immutable;
using System.Globalization;
using Supervisor.Sandbox.Capabilities;

namespace Supervisor.Sandbox.Inspect;

public static partial class IsolationCheck
{
    /// <summary>
    /// One line per kernel-surface directive of the plan, each checked live from what the kernel
    /// shows in /proc: the bounding set lacks the capabilities it drops, the process is in seccomp
    /// mode 2 with a filter loaded (the supervisor's, which holds the directive's rules), the
    /// paths it hides have a mount over them, the uts namespace is its own, /proc was mounted with
    /// subset=pid.
    ///
    /// The filter's instructions themselves are not read back: the kernel hands them out only to
    /// a ptrace tracer with the process stopped (PTRACE_SECCOMP_GET_FILTER), and in the daemon that
    /// stop would be reported to its reaper's waitid as an event of the child. The program that was
    /// loaded is the plan's, checked against each directive when it was compiled.
    /// </summary>
    private static void CompareKernelSurface(ExecPlan plan, IsolationState state, ImmutableArray<InspectLine>.Builder lines)
    {
        if (plan.KernelProtections.IsDefaultOrEmpty)
            return;
        string? procOptions = null;
        foreach (var p in plan.KernelProtections)
        {
            var declared = new List<string> { p.Meaning };
            var found = new List<string>();
            bool ok = true;
            void Fact(bool holds, string want, string got)
            {
                declared.Add(want);
                found.Add(got);
                ok &= holds;
            }
            if (p.DroppedCapabilities != 0)
            {
                var names = string.Join(",", CapabilityTable.NamesOf(p.DroppedCapabilities));
                ulong kept = state.CapBnd & p.DroppedCapabilities;
                Fact(kept == 0, $"CapBnd without {names}", kept == 0 ? $"CapBnd without {names}" : $"CapBnd has {string.Join(",", CapabilityTable.NamesOf(kept))}");
            }
            if (p.InSeccompFilter)
            {
                bool loaded = state.SeccompMode == 2 && state.SeccompFilters >= 1;
                Fact(loaded, "in the seccomp filter", $"seccomp mode {state.SeccompMode}, {state.SeccompFilters} filter(s)");
            }
            foreach (var path in p.HiddenPaths)
            {
                // Covered by a mount, or not there at all in the process's view (an earlier
                // InaccessiblePaths entry above it, say): either way the service cannot reach it.
                bool covered = state.Mounts.Any(m => m.MountPoint == path);
                bool absent = !covered && !InView(state.Pid, path);
                Fact(covered || absent, $"{path} hidden", covered ? $"{path} covered" : absent ? $"{path} absent" : $"{path} not covered");
            }
            if (p.OwnUts)
                Fact(state.InNewNamespace("uts"), "own uts namespace", state.InNewNamespace("uts") ? "own uts namespace" : "host uts namespace");
            if (p.ProcSubsetPid)
            {
                procOptions ??= ProcSuperOptions(state.Pid);
                bool subset = procOptions.Split(',').Contains("subset=pid");
                Fact(subset, "proc subset=pid", $"proc {procOptions}");
            }
            lines.Add(new InspectLine(p.Directive, string.Join("; ", declared), found.Count == 0 ? "-" : string.Join("; ", found),
                ok ? CheckResult.Match : CheckResult.Mismatch));
        }
    }

    /// <summary>Whether PATH exists as the process sees it (through /proc/PID/root, which follows its root and mounts).</summary>
    private static bool InView(int pid, string path)
    {
        var seen = string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/root{path}");
        return File.Exists(seen) || Directory.Exists(seen);
    }

    /// <summary>The super-block options of the /proc the process sees ("rw,subset=pid"), from the last proc mount on /proc in its mountinfo.</summary>
    private static string ProcSuperOptions(int pid)
    {
        try
        {
            string? options = null;
            foreach (var line in File.ReadLines(string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/mountinfo")))
            {
                // "36 35 0:4 / /proc rw,nosuid … - proc proc rw,subset=pid": mount point is field 5, then "-", type, source, options.
                var fields = line.Split(' ');
                int dash = Array.IndexOf(fields, "-");
                if (fields.Length > 4 && fields[4] == "/proc" && dash > 0 && dash + 3 < fields.Length && fields[dash + 1] == "proc")
                    options = fields[dash + 3];
            }
            return options ?? "(no proc mount on /proc)";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"(mountinfo unreadable: {e.Message})";
        }
    }
}
