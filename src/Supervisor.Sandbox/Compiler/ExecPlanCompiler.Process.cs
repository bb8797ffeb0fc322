using Supervisor.Units.Model;

namespace Supervisor.Sandbox.Compiler;

/// <summary>
/// The process attributes of systemd.exec(5) "SCHEDULING" (Nice, CPUScheduling*, IOScheduling*,
/// OOMScoreAdjust), IgnoreSIGPIPE, and how a terminal on stdin becomes the controlling one.
/// Defaults are systemd's: with any CPU scheduling key the policy is "other" unless named and
/// the priority the policy's lowest (1 for fifo/rr, else 0); with any I/O key the class is
/// best-effort and the priority 4; the idle class has no priority.
/// </summary>
public static partial class ExecPlanCompiler
{
    private const int CapSysResource = 24;

    private sealed partial class Compilation
    {
        private ProcessAttributes ProcessAttributes()
        {
            uint? policy = null;
            uint priority = 0;
            if (_svc.HasCpuScheduling)
            {
                var p = _svc.CPUSchedulingPolicy ?? CpuSchedulingPolicy.Other;
                bool realtime = p is CpuSchedulingPolicy.Fifo or CpuSchedulingPolicy.RR;
                priority = (uint)(_svc.CPUSchedulingPriority ?? (realtime ? 1 : 0));
                // The loader refuses these; a definition built in code must not reach the kernel's EINVAL.
                if (realtime != priority > 0)
                    throw Error("CPUSchedulingPriority", realtime ? "a real-time policy takes a priority from 1 to 99" : $"the policy {p} takes only priority 0");
                policy = (uint)p;
            }
            return new ProcessAttributes(
                Nice: _svc.Nice,
                SchedPolicy: policy,
                SchedPriority: priority,
                SchedResetOnFork: _svc.CPUSchedulingResetOnFork,
                IoPriority: IoPriority(),
                OomScoreAdjust: _svc.OOMScoreAdjust,
                IgnoreSigpipe: _svc.IgnoreSIGPIPE,
                OomScoreAdjustMayBeRefused: _svc.OOMScoreAdjust < 0 && (ctx.Host.SupervisorCapabilities & (1UL << CapSysResource)) == 0);
        }

        private uint? IoPriority()
        {
            if (_svc.IOSchedulingClass is null && _svc.IOSchedulingPriority is null)
                return null;
            // Class 0 ("none") means "derived from nice", which ioprio_get reports as best-effort: say so.
            var cls = _svc.IOSchedulingClass is null or IoSchedulingClass.None ? IoSchedulingClass.BestEffort : _svc.IOSchedulingClass.Value;
            uint data = cls == IoSchedulingClass.Idle ? 0 : (uint)(_svc.IOSchedulingPriority ?? 4);
            return ((uint)cls << Sandbox.ProcessAttributes.IoPrioClassShift) | data;
        }

        private TerminalMode TerminalModeOf() => _svc.StandardInput.Kind switch
        {
            StdInputKind.Tty => TerminalMode.Try,
            StdInputKind.TtyForce => TerminalMode.Force,
            StdInputKind.TtyFail => TerminalMode.Fail,
            _ => TerminalMode.None,
        };
    }
}
