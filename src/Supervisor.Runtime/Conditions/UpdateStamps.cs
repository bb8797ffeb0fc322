namespace Supervisor.Runtime.Conditions;

/// <summary>ConditionFirstBoot and ConditionNeedsUpdate, read as systemd 252's condition.c reads them.</summary>
public static class UpdateStamps
{
    /// <summary>
    /// systemd as PID 1 leaves /run/systemd/first-boot when it found /etc/machine-id unset; without
    /// it (Supervisor not under systemd) the machine ID itself says: missing, empty or "uninitialized".
    /// </summary>
    public static bool FirstBoot(string machineIdFile, string marker = "/run/systemd/first-boot")
    {
        if (File.Exists(marker)) return true;
        if (!File.Exists(machineIdFile)) return true;
        var id = File.ReadAllText(machineIdFile).Trim();
        return id.Length == 0 || id == "uninitialized";
    }

    /// <summary>
    /// True when DIR/.updated is missing or older than the /usr directory's modification time:
    /// seconds first, then nanoseconds, and when the stamp's own nanoseconds are 0 (a file system
    /// without them) its TIMESTAMP_NSEC= line. False on a read-only file system (nothing could be
    /// updated there); any other failure counts as true, as in systemd ("rather too many update
    /// tools than too few").
    /// </summary>
    public static bool NeedsUpdate(string dir, string usr)
    {
        try
        {
            if (Mounts.IsReadOnly(dir)) return false;
        }
        catch (IOException) { }
        var stamp = Path.Combine(dir, ".updated");
        var stampInfo = new FileInfo(stamp);
        if (!stampInfo.Exists || !Directory.Exists(usr)) return true;
        var (usrSec, usrNsec) = Linux.Files.Statx.ModificationTime(usr);
        var (stampSec, stampNsec) = Linux.Files.Statx.ModificationTime(stamp);
        if (usrSec != stampSec) return usrSec > stampSec;
        if (usrNsec == 0 || stampNsec > 0) return usrNsec > stampNsec;
        var line = File.ReadLines(stamp).Select(l => l.Trim()).LastOrDefault(l => l.StartsWith("TIMESTAMP_NSEC=", StringComparison.Ordinal));
        if (line is null) return false;
        return !ulong.TryParse(line["TIMESTAMP_NSEC=".Length..], out var nsec) || (ulong)usrSec * 1_000_000_000UL + (ulong)usrNsec > nsec;
    }
}
