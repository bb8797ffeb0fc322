namespace Supervisor.Units.Model;

// Enum member names are written in unit files in kebab-case (OnFailure ↔ "on-failure");
// KeyTable owns that mapping.

public enum ServiceType { Simple, Exec, Notify, Oneshot, Forking, Idle, Dbus }

/// <summary>systemd's Restart= values; the decision table is in the supervision code.</summary>
public enum RestartPolicy { No, OnSuccess, OnFailure, OnAbnormal, OnWatchdog, OnAbort, Always }

public enum KillMode { ControlGroup, Mixed, Process }

public enum ProtectSystem { No, Yes, Full, Strict }

public enum ProtectHome { No, Yes, ReadOnly, Tmpfs }

public enum ProtectProc { Default, Invisible, Noaccess, Ptraceable }

[Flags]
public enum Namespaces
{
    None = 0,
    Pid = 1 << 0,
    Net = 1 << 1,
    Mount = 1 << 2,
    Ipc = 1 << 3,
    Uts = 1 << 4,
    User = 1 << 5,
    Cgroup = 1 << 6,
    Time = 1 << 7,
}

public enum SecureBit { KeepCaps, KeepCapsLocked, NoSetuidFixup, NoSetuidFixupLocked, Noroot, NorootLocked }

/// <summary>Which ABIs may make system calls: "native" means only this machine's own.</summary>
public enum SyscallArchitecture { Native, X86_64, X86, X32, Aarch64, Arm }

/// <summary>A service runs processes; a slice groups cgroups; a target groups units (no process, no cgroup); a socket holds listening sockets for a service.</summary>
public enum UnitKind { Service, Slice, Target, Socket }
