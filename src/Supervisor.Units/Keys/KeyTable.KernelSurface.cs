namespace Supervisor.Units.Keys;

public static partial class KeyTable
{
    /// <summary>[Sandbox] keys that close kernel interfaces: seccomp argument filters and the Protect* kernel directives (systemd.exec(5)).</summary>
    private static IEnumerable<KeySpec> KernelSurfaceKeys() => [];
}
