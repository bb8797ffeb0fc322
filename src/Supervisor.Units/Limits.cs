namespace Supervisor.Units;

/// <summary>
/// Every count or size that comes from a unit file has its limit here, in one place.
/// A unit file is operator input, but it is also parsed by tools (check, show) run on files of
/// unknown origin, so nothing in it may make the parser use unbounded memory or stack.
/// </summary>
public static class Limits
{
    /// <summary>Largest unit file or drop-in read. Real units are a few KiB.</summary>
    public const long MaxFileBytes = 1024 * 1024;

    /// <summary>Deepest nesting of arrays and inline tables. The schema needs 2 (ExecStartPre).</summary>
    public const int MaxNestingDepth = 16;

    /// <summary>Most unit files (including slices) loaded from one directory.</summary>
    public const int MaxUnits = 10_000;

    /// <summary>Most drop-ins merged over one unit.</summary>
    public const int MaxDropIns = 256;

    /// <summary>Longest unit name, as systemd's UNIT_NAME_MAX.</summary>
    public const int MaxUnitNameLength = 255;

    /// <summary>Most arguments in one command line.</summary>
    public const int MaxArguments = 4096;

    /// <summary>Most entries in any list-valued key.</summary>
    public const int MaxListEntries = 4096;

    /// <summary>Longest hostname, as the kernel's __NEW_UTS_LEN.</summary>
    public const int MaxHostnameLength = 64;
}
