namespace Supervisor.Units.Model;

/// <summary>systemd's KeyringMode=: which session keyring the service's processes share.</summary>
public enum KeyringSetting
{
    /// <summary>The supervisor's own session keyring, with every key in it.</summary>
    Inherit,
    /// <summary>A new, empty session keyring for the service (systemd's default for system services).</summary>
    Private,
    /// <summary>A new session keyring with the service user's user keyring linked in.</summary>
    Shared,
}

/// <summary>[Sandbox] keys that decide who the service runs as and what it leaves behind.</summary>
public sealed partial record SandboxSection
{
    /// <summary>The umask systemd gives a service when UMask= is not set (0022).</summary>
    public const uint DefaultUMask = 0x12;

    /// <summary>Run as a uid/gid pair from 61184–65519 allocated while the unit runs (see <see cref="WithImplications"/>).</summary>
    public bool DynamicUser { get; init; }

    /// <summary>The file mode creation mask the service starts with, 0–0777.</summary>
    public uint UMask { get; init; } = DefaultUMask;

    public KeyringSetting KeyringMode { get; init; } = KeyringSetting.Private;

    /// <summary>Remove the System V and POSIX IPC objects of the service's user and group when the unit stops (never root's).</summary>
    public bool RemoveIPC { get; init; }

    /// <summary>
    /// The sandbox the service really gets: what the unit declares plus what its other keys imply,
    /// as systemd's unit_patch_contexts() does. DynamicUser implies ProtectSystem=strict,
    /// ProtectHome=read-only (unless the unit asks for more, "true" or "tmpfs"), PrivateTmp,
    /// RemoveIPC and NoNewPrivileges, so a uid that is given to another unit later finds no file
    /// and no IPC object of this one. (systemd also implies RestrictSUIDSGID here; that key is set
    /// in this function as well once it exists.) The compiler, the runtime and inspect all read
    /// this, never the declared section alone.
    /// </summary>
    public SandboxSection WithImplications()
    {
        if (!DynamicUser) return this;
        return this with
        {
            ProtectSystem = ProtectSystem.Strict,
            ProtectHome = ProtectHome == ProtectHome.No ? ProtectHome.ReadOnly : ProtectHome,
            PrivateTmp = true,
            RemoveIPC = true,
            NoNewPrivileges = true,
        };
    }
}
