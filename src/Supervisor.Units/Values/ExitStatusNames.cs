namespace Supervisor.Units.Values;

/// <summary>
/// systemd 252's exit status names (src/basic/exit-status.c, exit_status_mappings): libc's 0 and 1,
/// the LSB init-script codes, BSD's sysexits.h and systemd's own setup failures. SuccessExitStatus,
/// RestartPreventExitStatus and RestartForceExitStatus take them in place of numbers, as systemd's
/// exit_status_from_string does. The spelling is the string of that table, not the EXIT_ constant
/// of the man page: 231 is "APPARMOR", not "APPARMOR_PROFILE".
/// </summary>
public static class ExitStatusNames
{
    public static readonly IReadOnlyDictionary<string, int> ByName = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        ["SUCCESS"] = 0, ["FAILURE"] = 1,
        ["INVALIDARGUMENT"] = 2, ["NOTIMPLEMENTED"] = 3, ["NOPERMISSION"] = 4, ["NOTINSTALLED"] = 5, ["NOTCONFIGURED"] = 6, ["NOTRUNNING"] = 7,
        ["USAGE"] = 64, ["DATAERR"] = 65, ["NOINPUT"] = 66, ["NOUSER"] = 67, ["NOHOST"] = 68, ["UNAVAILABLE"] = 69,
        ["SOFTWARE"] = 70, ["OSERR"] = 71, ["OSFILE"] = 72, ["CANTCREAT"] = 73, ["IOERR"] = 74, ["TEMPFAIL"] = 75,
        ["PROTOCOL"] = 76, ["NOPERM"] = 77, ["CONFIG"] = 78,
        ["CHDIR"] = 200, ["NICE"] = 201, ["FDS"] = 202, ["EXEC"] = 203, ["MEMORY"] = 204, ["LIMITS"] = 205,
        ["OOM_ADJUST"] = 206, ["SIGNAL_MASK"] = 207, ["STDIN"] = 208, ["STDOUT"] = 209, ["CHROOT"] = 210, ["IOPRIO"] = 211,
        ["TIMERSLACK"] = 212, ["SECUREBITS"] = 213, ["SETSCHEDULER"] = 214, ["CPUAFFINITY"] = 215, ["GROUP"] = 216,
        ["USER"] = 217, ["CAPABILITIES"] = 218, ["CGROUP"] = 219, ["SETSID"] = 220, ["CONFIRM"] = 221, ["STDERR"] = 222,
        ["PAM"] = 224, ["NETWORK"] = 225, ["NAMESPACE"] = 226, ["NO_NEW_PRIVILEGES"] = 227, ["SECCOMP"] = 228,
        ["SELINUX_CONTEXT"] = 229, ["PERSONALITY"] = 230, ["APPARMOR"] = 231, ["ADDRESS_FAMILIES"] = 232,
        ["RUNTIME_DIRECTORY"] = 233, ["CHOWN"] = 235, ["SMACK_PROCESS_LABEL"] = 236, ["KEYRING"] = 237,
        ["STATE_DIRECTORY"] = 238, ["CACHE_DIRECTORY"] = 239, ["LOGS_DIRECTORY"] = 240, ["CONFIGURATION_DIRECTORY"] = 241,
        ["NUMA_POLICY"] = 242, ["CREDENTIALS"] = 243, ["BPF"] = 245, ["EXCEPTION"] = 255,
    };

    private static readonly Dictionary<int, string> ByCode = ByName.ToDictionary(kv => kv.Value, kv => kv.Key);

    /// <summary>The name systemd gives the code, or null (most codes have none).</summary>
    public static string? NameOf(int code) => ByCode.GetValueOrDefault(code);
}
