namespace Supervisor.Cgroups;

/// <summary>
/// One controller of one cgroup version (runc's subsystem): which [Resources] keys it maps to which
/// files, what it cannot honour here, and which accounting files it reads.
/// </summary>
internal interface IController
{
    /// <summary>Kernel controller name ("memory", "cpu", "blkio", "io", …).</summary>
    string Name { get; }

    /// <summary>True when the host has this controller for our subtree.</summary>
    bool Available { get; }

    void CannotHonour(ResourceLimits limits, List<Unhonoured> into);

    /// <summary>The settings for <paramref name="limits"/> in the cgroup directory <paramref name="dir"/>.</summary>
    void AddSettings(ResourceLimits limits, string dir, List<LimitSetting> into);

    void ReadStats(string dir, StatReader reader, CgroupStats stats);
}

internal static class ControllerHelpers
{
    /// <summary>Reports every declared key of a controller the host lacks.</summary>
    public static void Missing(List<Unhonoured> into, string controller, string why, params (string Key, bool Declared)[] keys)
    {
        foreach (var (key, declared) in keys)
        {
            if (declared)
            {
                into.Add(new Unhonoured(key, $"{controller} controller {why}", UnhonouredKind.ControllerMissing));
            }
        }
    }

    /// <summary>
    /// Per-device rule files (v1 blkio.throttle.*): one "MAJ:MIN value" line per device. Declared
    /// devices get their value; devices in the file that are no longer declared are reset with
    /// <paramref name="resetValue"/>.
    /// </summary>
    public static void DeviceLines(string key, string file, IReadOnlyDictionary<string, ulong>? map,
        DeviceResolver resolve, string resetValue, List<LimitSetting> into)
    {
        if (map is null)
        {
            return;
        }
        var declared = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (device, value) in map.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var (major, minor) = resolve(device);
            declared[$"{major}:{minor}"] = Values.U(value);
        }
        foreach (var (dev, value) in declared)
        {
            into.Add(new LimitSetting(key, file, $"{dev} {value}", text => $"{dev} {LineValue(text, dev) ?? resetValue}", $"{dev} {value}"));
        }
        // Rules left over from an earlier declaration (or written by hand) for other devices: reset.
        var existing = CgroupFs.TryReadText(file, out _) ?? "";
        foreach (var line in existing.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var dev = line.Split(' ')[0];
            if (!declared.ContainsKey(dev))
            {
                into.Add(new LimitSetting(key, file, $"{dev} {resetValue}", text => $"{dev} {LineValue(text, dev) ?? resetValue}", $"{dev} {resetValue}"));
            }
        }
    }

    /// <summary>The value after "MAJ:MIN " on that device's line, or null when the device has no line.</summary>
    public static string? LineValue(string text, string device)
    {
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith(device + " ", StringComparison.Ordinal))
            {
                return line[(device.Length + 1)..].Trim();
            }
        }
        return null;
    }
}
