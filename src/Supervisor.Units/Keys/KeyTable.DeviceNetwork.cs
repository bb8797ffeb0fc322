namespace Supervisor.Units.Keys;

public static partial class KeyTable
{
    /// <summary>[Resources] keys that control which devices and network peers the unit's cgroup may reach (systemd.resource-control(5)).</summary>
    private static IEnumerable<KeySpec> DeviceNetworkKeys() => [];
}
