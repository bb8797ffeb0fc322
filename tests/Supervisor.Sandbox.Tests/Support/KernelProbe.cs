namespace Supervisor.Sandbox.Tests.Support;

/// <summary>The static kernel-surface probe (probe/kernel_probe.c), compiled once per test run with gcc.</summary>
internal static class KernelProbe
{
    private static readonly Lazy<string> Built = new(Build);

    public static string Path => Built.Value;

    private static string Build()
    {
        // Under /run, not /tmp: PrivateTmp would hide /tmp from the service.
        var dir = System.IO.Path.Combine("/run", "sbx-kprobe-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        File.SetUnixFileMode(dir, (UnixFileMode)0x1ED);
        var output = System.IO.Path.Combine(dir, "kernel_probe");
        var source = System.IO.Path.Combine(Host.RepoRoot(), "tests", "Supervisor.Sandbox.Tests", "probe", "kernel_probe.c");
        Host.Run("gcc", "-static", "-O1", "-Wall", "-Werror", "-o", output, source);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(dir, true);
        return output;
    }
}
