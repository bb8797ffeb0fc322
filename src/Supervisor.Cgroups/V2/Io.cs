namespace Supervisor.Cgroups.V2;

/// <summary>
/// v2 io controller. IOWeight → io.weight ("default N"), and io.bfq.weight beside it where BFQ is
/// present (systemd does the same, since io.weight only works with the io.cost controller while BFQ
/// reads its own file). IO*Max → io.max, one line per device with rbps/wbps/riops/wiops fields;
/// writing "MAJ:MIN rbps=N" changes only that field.
/// </summary>
internal sealed class Io(DriverContext ctx, V2Controllers enabled) : IController
{
    public string Name => "io";

    public bool Available => enabled.Has(Name);

    public void CannotHonour(ResourceLimits l, List<Unhonoured> into)
    {
        if (!Available)
        {
            ControllerHelpers.Missing(into, Name, enabled.Why(Name),
                (ResourceKeys.IOWeight, l.IOWeight is not null),
                (ResourceKeys.IOReadBandwidthMax, l.IOReadBandwidthMax is not null), (ResourceKeys.IOWriteBandwidthMax, l.IOWriteBandwidthMax is not null),
                (ResourceKeys.IOReadIOPSMax, l.IOReadIOPSMax is not null), (ResourceKeys.IOWriteIOPSMax, l.IOWriteIOPSMax is not null));
            return;
        }
        if (l.IOWeight is not null && !enabled.FileInRoot("io.weight") && !enabled.FileInRoot("io.bfq.weight"))
        {
            into.Add(new Unhonoured(ResourceKeys.IOWeight, "neither io.weight (io.cost) nor io.bfq.weight (BFQ) exists; not applied", UnhonouredKind.FileMissing));
        }
    }

    public void AddSettings(ResourceLimits l, string dir, List<LimitSetting> into)
    {
        if (!Available)
        {
            return;
        }
        if (l.IOWeight is { } weight)
        {
            if (enabled.FileInRoot("io.weight"))
            {
                into.Add(LimitSetting.Simple(ResourceKeys.IOWeight, Path.Combine(dir, "io.weight"), "default " + Values.L(weight), Values.NormaliseDefaultWeight));
            }
            if (enabled.FileInRoot("io.bfq.weight"))
            {
                into.Add(LimitSetting.Simple(ResourceKeys.IOWeight, Path.Combine(dir, "io.bfq.weight"), "default " + Values.L(Conversions.IoWeightToBfqWeight(weight)), Values.NormaliseDefaultWeight));
            }
        }
        var file = Path.Combine(dir, "io.max");
        Field(ResourceKeys.IOReadBandwidthMax, "rbps", l.IOReadBandwidthMax);
        Field(ResourceKeys.IOWriteBandwidthMax, "wbps", l.IOWriteBandwidthMax);
        Field(ResourceKeys.IOReadIOPSMax, "riops", l.IOReadIOPSMax);
        Field(ResourceKeys.IOWriteIOPSMax, "wiops", l.IOWriteIOPSMax);

        void Field(string key, string field, IReadOnlyDictionary<string, ulong>? map)
        {
            if (map is null)
            {
                return;
            }
            var declared = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var (device, value) in map)
            {
                var (major, minor) = ctx.ResolveDevice(device);
                declared[$"{major}:{minor}"] = Values.U(value);
            }
            foreach (var (dev, value) in declared)
            {
                var want = $"{dev} {field}={value}";
                into.Add(new LimitSetting(key, file, want, text => $"{dev} {field}={FieldValue(text, dev, field)}", want));
            }
            // Limits on devices no longer declared (or set by hand): back to max.
            var existing = CgroupFs.TryReadText(file, out _) ?? "";
            foreach (var line in existing.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var dev = line.Split(' ')[0];
                if (!declared.ContainsKey(dev) && FieldValue(existing, dev, field) != "max")
                {
                    var reset = $"{dev} {field}=max";
                    into.Add(new LimitSetting(key, file, reset, text => $"{dev} {field}={FieldValue(text, dev, field)}", reset));
                }
            }
        }
    }

    /// <summary>A field of a device's io.max line; "max" when the device has no line (no limits).</summary>
    internal static string FieldValue(string text, string device, string field)
    {
        var line = ControllerHelpers.LineValue(text, device);
        if (line is null)
        {
            return "max";
        }
        foreach (var part in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part.StartsWith(field + "=", StringComparison.Ordinal))
            {
                return part[(field.Length + 1)..];
            }
        }
        return "max";
    }

    public void ReadStats(string dir, StatReader r, CgroupStats s)
    {
        if (Available && r.Read(dir, "io.stat"))
        {
            (s.IoReadBytes, s.IoWriteBytes, s.IoReadOps, s.IoWriteOps) = r.IoStatV2();
        }
        if (r.Read(dir, "io.pressure", optional: true))
        {
            s.IoPressure = r.Pressure();
        }
    }
}
