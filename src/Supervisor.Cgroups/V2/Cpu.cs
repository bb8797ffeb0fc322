namespace Supervisor.Cgroups.V2;

/// <summary>
/// v2 cpu controller: CPUQuota → cpu.max "QUOTA PERIOD" ("max PERIOD" for none), CPUWeight →
/// cpu.weight. cpu.stat and cpu.pressure exist even without the controller enabled.
/// </summary>
internal sealed class Cpu(V2Controllers enabled) : IController
{
    public string Name => "cpu";

    public bool Available => enabled.Has(Name);

    public void CannotHonour(ResourceLimits l, List<Unhonoured> into)
    {
        if (!Available)
        {
            ControllerHelpers.Missing(into, Name, enabled.Why(Name),
                (ResourceKeys.CPUQuota, l.CPUQuotaPercent is not null), (ResourceKeys.CPUWeight, l.CPUWeight is not null));
        }
    }

    public void AddSettings(ResourceLimits l, string dir, List<LimitSetting> into)
    {
        if (!Available)
        {
            return;
        }
        if (l.CPUQuotaPercent is { } pct)
        {
            var (quota, period) = Conversions.CpuQuota(pct, l.CPUQuotaPeriod);
            var value = $"{(quota is { } q ? Values.L(q) : "max")} {Values.L(period)}";
            into.Add(LimitSetting.Simple(ResourceKeys.CPUQuota, Path.Combine(dir, "cpu.max"), value, t => string.Join(' ', t.Split(' ', StringSplitOptions.RemoveEmptyEntries))));
        }
        if (l.CPUWeight is { } weight)
        {
            into.Add(LimitSetting.Simple(ResourceKeys.CPUWeight, Path.Combine(dir, "cpu.weight"), Values.L(weight), Values.NormaliseCount));
        }
    }

    public void ReadStats(string dir, StatReader r, CgroupStats s)
    {
        if (r.Read(dir, "cpu.stat"))
        {
            s.CpuUsageNs = r.Keyed("usage_usec"u8) * 1000;
            s.CpuUserNs = r.Keyed("user_usec"u8) * 1000;
            s.CpuSystemNs = r.Keyed("system_usec"u8) * 1000;
            s.CpuPeriods = r.Keyed("nr_periods"u8);
            s.CpuThrottledPeriods = r.Keyed("nr_throttled"u8);
            s.CpuThrottledNs = r.Keyed("throttled_usec"u8) * 1000;
        }
        if (Available && !r.UsageOnly && r.Read(dir, "cpu.max"))
        {
            var text = r.Data;
            int sp = text.IndexOf((byte)' ');
            if (sp > 0)
            {
                var quota = text[..sp];
                s.CpuQuotaUs = quota.SequenceEqual("max"u8) ? null : ParseU(quota);
                s.CpuPeriodUs = ParseU(text[(sp + 1)..].TrimEnd("\n"u8));
            }
        }
        if (r.Read(dir, "cpu.pressure", optional: true))
        {
            s.CpuPressure = r.Pressure();
        }
    }

    private static ulong? ParseU(ReadOnlySpan<byte> s)
        => System.Buffers.Text.Utf8Parser.TryParse(s, out ulong v, out int used) && used == s.Length ? v : null;
}
