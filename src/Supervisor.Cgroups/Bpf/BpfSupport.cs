using System.Runtime.InteropServices;
using Supervisor.Linux;
using Supervisor.Linux.Native;

namespace Supervisor.Cgroups.Bpf;

/// <summary>
/// Whether this host lets us load cgroup BPF programs at all (a kernel without CONFIG_CGROUP_BPF,
/// missing CAP_BPF, or a seccomp filter around us): systemd's bpf_devices_supported() check, a
/// two-instruction device program loaded and closed again.
/// </summary>
public static class BpfSupport
{
    private const int ENOSYS = 38;

    /// <returns>Null when programs can be loaded, else why not.</returns>
    public static string? Probe()
    {
        var asm = new BpfAssembler().Mov64(0, 1).Exit();
        var program = new BpfProgram
        {
            Name = "sv_probe",
            ProgramType = Libc.BPF_PROG_TYPE_CGROUP_DEVICE,
            AttachType = Libc.BPF_CGROUP_DEVICE,
            Code = asm.Build().Code,
            Description = "allow everything",
        };
        var code = program.Encode([]);
        int fd = Libc.BpfProgLoad(program.ProgramType, code, "GPL", 0, program.Name, []);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return $"this host refuses to load cgroup BPF programs: bpf(BPF_PROG_LOAD) failed with {Errno.Name(errno)}"
                + (errno == Errno.EPERM ? " (the supervisor needs CAP_BPF and CAP_NET_ADMIN, or root)" : errno == ENOSYS ? " (kernel without CONFIG_BPF_SYSCALL)" : "");
        }
        Libc.Close(fd);
        return null;
    }
}
