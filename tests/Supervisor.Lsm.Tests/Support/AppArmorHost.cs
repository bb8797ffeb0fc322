namespace Supervisor.Lsm.Tests.Support;

/// <summary>
/// Whether the kernel the tests run on enforces AppArmor with the lane's test profile loaded.
/// This development host has no AppArmor, so the tests report themselves skipped here and run in
/// the VM lane (tests/vm/run.sh), which boots Debian's kernel with apparmor=1 and loads
/// tests/vm/apparmor. There, SUPERVISOR_VM_LANE=1 turns a missing prerequisite into a failure:
/// a lane whose AppArmor tests all skipped would prove nothing.
/// </summary>
internal static class AppArmorHost
{
    /// <summary>The profile in tests/vm/apparmor/supervisor-test-deny.</summary>
    public const string TestProfile = "supervisor-test-deny";

    /// <summary>The one path the test profile denies reading.</summary>
    public const string DeniedDirectory = "/run/supervisor-lsm-test";
    public const string DeniedFile = DeniedDirectory + "/secret";

    public static bool InVmLane => Environment.GetEnvironmentVariable("SUPERVISOR_VM_LANE") == "1";

    public static void Require()
    {
        if (WhyNot() is { } reason)
        {
            if (InVmLane)
                Assert.Fail($"the VM lane must run the AppArmor tests, but {reason}");
            Assert.Skip(reason);
        }
    }

    private static string? WhyNot()
    {
        if (!IsRoot())
            return "needs root: starts processes under an AppArmor profile through the exec helper";
        var enabled = ReadOrNull("/sys/module/apparmor/parameters/enabled")?.Trim();
        if (enabled != "Y")
            return $"AppArmor is not enabled on this host (/sys/module/apparmor/parameters/enabled: {enabled ?? "absent"}); run tests/vm/run.sh";
        var lsm = ReadOrNull("/sys/kernel/security/lsm");
        if (lsm is null)
            return "securityfs is not mounted at /sys/kernel/security (mount -t securityfs securityfs /sys/kernel/security)";
        if (!lsm.Trim().Split(',').Contains("apparmor"))
            return $"AppArmor is not an active LSM (/sys/kernel/security/lsm: {lsm.Trim()}); boot with apparmor=1 security=apparmor";
        if (!LoadedProfiles().Contains(TestProfile))
            return $"the test profile '{TestProfile}' is not loaded: apparmor_parser -r tests/vm/apparmor/{TestProfile} (tests/vm/run.sh does)";
        return null;
    }

    /// <summary>Names of the loaded profiles, from "NAME (MODE)" lines.</summary>
    public static IReadOnlyList<string> LoadedProfiles()
    {
        var text = ReadOrNull("/sys/kernel/security/apparmor/profiles") ?? "";
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.LastIndexOf(" (", StringComparison.Ordinal) is int i and > 0 ? l[..i] : l)
            .ToList();
    }

    /// <summary>The label a process runs under, as the kernel shows it to anyone looking from outside.</summary>
    public static string LabelOf(int pid) => File.ReadAllText($"/proc/{pid}/attr/current").TrimEnd('\0', '\n');

    private static bool IsRoot() =>
        File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t')[1] == "0";

    private static string? ReadOrNull(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
