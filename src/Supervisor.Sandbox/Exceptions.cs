namespace Supervisor.Sandbox;

/// <summary>The helper (or its start) failed at one setup step; nothing of the service is left running.</summary>
public sealed class SandboxSetupException : Exception
{
    public SandboxSetupException(SetupStep step, int errno, string message) : base(message)
    {
        Step = step;
        Errno = errno;
    }

    public SetupStep Step { get; }
    /// <summary>The errno of the failing call (0 when there was none).</summary>
    public int Errno { get; }
}

/// <summary>A seccomp policy or profile could not be compiled (unknown syscall, bad action, libseccomp error).</summary>
public sealed class SeccompCompileException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A capability name or number that this table or the host kernel does not know.</summary>
public sealed class UnknownCapabilityException(string message) : Exception(message);

/// <summary>A unit cannot be turned into an ExecPlan; the message names unit, key and cause.</summary>
public sealed class PlanCompileException(string unit, string key, string message) : Exception(message)
{
    public string Unit { get; } = unit;
    public string Key { get; } = key;
}

/// <summary>The native helper binary was not found where the runtime looks for it.</summary>
public sealed class HelperNotFoundException(string message) : Exception(message);
