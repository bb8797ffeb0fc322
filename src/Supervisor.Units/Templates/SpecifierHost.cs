namespace Supervisor.Units.Templates;

/// <summary>
/// The facts about this machine that specifiers stand for (%H %l %m %b %a %o %w %W %B %A %M %T %V
/// and the manager's own user for %u %U %h %s %g %G), read once. Tests give their own values.
/// </summary>
public sealed class SpecifierHost
{
    public static readonly SpecifierHost Current = FromSystem();

    public required string Hostname { get; init; }
    public required string MachineId { get; init; }
    public required string BootId { get; init; }
    public required string Architecture { get; init; }
    public required string KernelRelease { get; init; }
    public required IReadOnlyDictionary<string, string> OsRelease { get; init; }
    public required string TempDirectory { get; init; }
    public required string VarTempDirectory { get; init; }
    // The user running the service manager: for the system manager, root (systemd.unit(5):
    // "not influenced by the User= setting").
    public string UserName { get; init; } = "root";
    public string Uid { get; init; } = "0";
    public string GroupName { get; init; } = "root";
    public string Gid { get; init; } = "0";
    public string Home { get; init; } = "/root";
    public string Shell { get; init; } = "/bin/sh";

    private static SpecifierHost FromSystem()
    {
        // systemd takes %T from $TMPDIR, $TEMP or $TMP (the first that is an absolute path), else /tmp; %V the same, else /var/tmp.
        var tmp = new[] { "TMPDIR", "TEMP", "TMP" }.Select(Environment.GetEnvironmentVariable).FirstOrDefault(v => v is { Length: > 1 } && v.StartsWith('/'));
        var root = ReadPasswdRoot();
        return new SpecifierHost
        {
            Hostname = ReadLine("/proc/sys/kernel/hostname") ?? Environment.MachineName,
            MachineId = ReadLine("/etc/machine-id") ?? "",
            BootId = (ReadLine("/proc/sys/kernel/random/boot_id") ?? "").Replace("-", "", StringComparison.Ordinal),
            Architecture = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture switch
            {
                System.Runtime.InteropServices.Architecture.X64 => "x86-64",
                System.Runtime.InteropServices.Architecture.X86 => "x86",
                System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
                System.Runtime.InteropServices.Architecture.Arm => "arm",
                var other => other.ToString().ToLowerInvariant(),
            },
            KernelRelease = ReadLine("/proc/sys/kernel/osrelease") ?? "",
            OsRelease = ReadOsRelease(),
            TempDirectory = tmp ?? "/tmp",
            VarTempDirectory = tmp ?? "/var/tmp",
            Home = root.Home,
            Shell = root.Shell,
        };
    }

    private static string? ReadLine(string path)
    {
        try { return File.ReadLines(path).FirstOrDefault()?.Trim(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>/etc/os-release (else /usr/lib/os-release): KEY=value lines, quotes removed.</summary>
    private static Dictionary<string, string> ReadOsRelease()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var path in new[] { "/etc/os-release", "/usr/lib/os-release" })
        {
            try
            {
                foreach (var line in File.ReadLines(path))
                {
                    var eq = line.IndexOf('=', StringComparison.Ordinal);
                    if (eq <= 0 || line.StartsWith('#')) continue;
                    result[line[..eq].Trim()] = line[(eq + 1)..].Trim().Trim('"', '\'');
                }
                return result;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return result;
    }

    /// <summary>Root's home and shell from /etc/passwd; systemd's fallbacks when it has none.</summary>
    private static (string Home, string Shell) ReadPasswdRoot()
    {
        try
        {
            foreach (var line in File.ReadLines("/etc/passwd"))
            {
                var f = line.Split(':');
                if (f.Length >= 7 && f[2] == "0") return (f[5].Length > 0 ? f[5] : "/root", f[6].Length > 0 ? f[6] : "/bin/sh");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return ("/root", "/bin/sh");
    }
}
