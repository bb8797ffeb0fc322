namespace Supervisor.Units.Keys;

public static partial class KeyTable
{
    /// <summary>[Sandbox] keys that decide who the service runs as and what it leaves behind (DynamicUser, UMask, KeyringMode, RemoveIPC).</summary>
    private static IEnumerable<KeySpec> IdentityKeys() => [];
}
