namespace Supervisor.Units.Keys;

public static partial class KeyTable
{
    /// <summary>[Sandbox] keys that give the unit its own namespaces under systemd's names, and the filesystem view around them.</summary>
    private static IEnumerable<KeySpec> NamespaceKeys() => [];
}
