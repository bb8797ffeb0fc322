namespace Supervisor.Cgroups.V1;

/// <summary>
/// v1 blkio controller. IOWeight → blkio.weight (w × 500 / 100, clamped to 10..1000) where the CFQ
/// weight file exists; on multiqueue kernels without CFQ only BFQ has weights, so it goes to
/// blkio.bfq.weight (systemd's BFQ mapping) and is reported as effective only on BFQ devices.
/// IO*Max → blkio.throttle.{read,write}_{bps,iops}_device, one "MAJ:MIN value" line per device
/// ("MAJ:MIN 0" removes a rule).
/// </summary>
internal sealed class Blkio(DriverContext ctx) : IController
{
    private readonly string? _hierarchy = ctx.Layout.V1Mounts.GetValueOrDefault("blkio");

    public string Name => "blkio";

    public bool Available => _hierarchy is not null;

    // blkio.weight (CFQ) is present at the root; the BFQ weight file is not (CFTYPE_NOT_ON_ROOT), but
    // BFQ's stat files are, so they tell whether BFQ's policy is registered.
    // Host facts: fixed for the life of the kernel, so looked up once.
    private readonly Lazy<bool> _cfq = new(() => HasRootFile(ctx, "blkio.weight"));
    private readonly Lazy<bool> _bfq = new(() => HasRootFile(ctx, "blkio.bfq.io_service_bytes"));
    private readonly Lazy<bool> _throttle = new(() => HasRootFile(ctx, "blkio.throttle.read_bps_device"));

    private bool CfqWeight => _cfq.Value;

    private bool BfqWeight => _bfq.Value;

    private bool Throttle => _throttle.Value;

    private static bool HasRootFile(DriverContext ctx, string file)
        => ctx.Layout.V1Mounts.TryGetValue("blkio", out var h) && File.Exists(Path.Combine(h, file));

    public void CannotHonour(ResourceLimits l, List<Unhonoured> into)
    {
        if (!Available)
        {
            ControllerHelpers.Missing(into, Name, "is not mounted",
                (ResourceKeys.IOWeight, l.IOWeight is not null),
                (ResourceKeys.IOReadBandwidthMax, l.IOReadBandwidthMax is not null), (ResourceKeys.IOWriteBandwidthMax, l.IOWriteBandwidthMax is not null),
                (ResourceKeys.IOReadIOPSMax, l.IOReadIOPSMax is not null), (ResourceKeys.IOWriteIOPSMax, l.IOWriteIOPSMax is not null));
            return;
        }
        if (l.IOWeight is not null && !CfqWeight)
        {
            into.Add(BfqWeight
                ? new Unhonoured(ResourceKeys.IOWeight, "no CFQ on this kernel: written to blkio.bfq.weight, effective only on devices using the bfq I/O scheduler", UnhonouredKind.Approximated)
                : new Unhonoured(ResourceKeys.IOWeight, "no proportional-weight I/O scheduler (CFQ or BFQ) in this kernel; not applied", UnhonouredKind.FileMissing));
        }
        if (!Throttle)
        {
            ControllerHelpers.Missing(into, Name, "has no throttling (CONFIG_BLK_DEV_THROTTLING off)",
                (ResourceKeys.IOReadBandwidthMax, l.IOReadBandwidthMax is not null), (ResourceKeys.IOWriteBandwidthMax, l.IOWriteBandwidthMax is not null),
                (ResourceKeys.IOReadIOPSMax, l.IOReadIOPSMax is not null), (ResourceKeys.IOWriteIOPSMax, l.IOWriteIOPSMax is not null));
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
            if (CfqWeight)
            {
                into.Add(LimitSetting.Simple(ResourceKeys.IOWeight, Path.Combine(dir, "blkio.weight"), Values.L(Conversions.IoWeightToBlkioWeight(weight)), Values.NormaliseCount));
            }
            else if (BfqWeight)
            {
                // Reads back as "default N" on newer kernels, plain "N" on older ones.
                into.Add(LimitSetting.Simple(ResourceKeys.IOWeight, Path.Combine(dir, "blkio.bfq.weight"), Values.L(Conversions.IoWeightToBfqWeight(weight)), Values.NormaliseDefaultWeight));
            }
        }
        if (Throttle)
        {
            ControllerHelpers.DeviceLines(ResourceKeys.IOReadBandwidthMax, Path.Combine(dir, "blkio.throttle.read_bps_device"), l.IOReadBandwidthMax, ctx.ResolveDevice, "0", into);
            ControllerHelpers.DeviceLines(ResourceKeys.IOWriteBandwidthMax, Path.Combine(dir, "blkio.throttle.write_bps_device"), l.IOWriteBandwidthMax, ctx.ResolveDevice, "0", into);
            ControllerHelpers.DeviceLines(ResourceKeys.IOReadIOPSMax, Path.Combine(dir, "blkio.throttle.read_iops_device"), l.IOReadIOPSMax, ctx.ResolveDevice, "0", into);
            ControllerHelpers.DeviceLines(ResourceKeys.IOWriteIOPSMax, Path.Combine(dir, "blkio.throttle.write_iops_device"), l.IOWriteIOPSMax, ctx.ResolveDevice, "0", into);
        }
    }

    public void ReadStats(string dir, StatReader r, CgroupStats s)
    {
        if (!Available)
        {
            return;
        }
        // The throttle layer sees every bio, throttled or not, so its counters are the IO totals;
        // _recursive includes descendant cgroups.
        if (r.Read(dir, "blkio.throttle.io_service_bytes_recursive", optional: true))
        {
            (s.IoReadBytes, s.IoWriteBytes) = r.BlkioV1();
        }
        if (!r.UsageOnly && r.Read(dir, "blkio.throttle.io_serviced_recursive", optional: true))
        {
            (s.IoReadOps, s.IoWriteOps) = r.BlkioV1();
        }
    }
}
