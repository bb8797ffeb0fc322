namespace Supervisor.Units.Model;

/// <summary>
/// systemd's prefixes on an Exec* line other than "-" (which is <see cref="Command.IgnoreFailure"/>),
/// systemd.service(5) "COMMAND LINES". They combine in any order, each at most once; "+" excludes
/// "!" and "!!" (systemd's config_parse_exec). "@" is <see cref="Command.Executable"/>.
/// </summary>
[Flags]
public enum ExecFlags
{
    None = 0,
    /// <summary>":": no $VAR / ${VAR} expansion in the arguments.</summary>
    NoExpansion = 1,
    /// <summary>"+": full privileges: no namespace, mount, seccomp, capability drop, user change or LSM label; still in the unit's cgroup.</summary>
    FullPrivileges = 2,
    /// <summary>"!": no change of user or group (runs as root); the rest of the sandbox applies.</summary>
    NoUserChange = 4,
    /// <summary>
    /// "!!": in systemd, "!" only on a kernel without ambient capabilities, else nothing. Every
    /// kernel this supervisor runs on (4.3 and later) has them, so it behaves as no prefix; it is
    /// kept so that show and import write what the unit said.
    /// </summary>
    NoUserChangeWithoutAmbient = 8,
}

/// <summary>[Service] keys of the command lines and their environment (KeyTable.Exec.cs).</summary>
public sealed partial record ServiceSection
{
    /// <summary>The ExecStart lines after the first, run in order as the main process (Type=oneshot only, as in systemd).</summary>
    public ValueList<Command> ExecStartMore { get; init; } = ValueList<Command>.Empty;

    /// <summary>Every ExecStart line, in order; empty when there is no ExecStart.</summary>
    public IReadOnlyList<Command> ExecStartLines => ExecStart is null ? [] : [ExecStart, .. ExecStartMore];

    /// <summary>Names to remove from the environment, or NAME=VALUE to remove only that assignment.</summary>
    public ValueList<string> UnsetEnvironment { get; init; } = ValueList<string>.Empty;

    /// <summary>Names of the supervisor's own environment variables the service gets (absent ones are skipped).</summary>
    public ValueList<string> PassEnvironment { get; init; } = ValueList<string>.Empty;
}
