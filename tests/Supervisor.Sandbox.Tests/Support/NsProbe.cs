using Supervisor.Sandbox.Compiler;
using Supervisor.Units;

namespace Supervisor.Sandbox.Tests.Support;

/// <summary>
/// probe/nsprobe.c, built once per test run, and units that run it: written as TOML, loaded by
/// the unit loader (so `check`'s rules apply), compiled for this host and run through the helper.
/// </summary>
internal static class NsProbe
{
    private static readonly Lazy<string> Built = new(Build);

    public static string Path => Built.Value;

    private static string Build()
    {
        // Under /run, not /tmp: PrivateTmp and TemporaryFileSystem tests hide /tmp.
        var dir = System.IO.Path.Combine("/run", "sbx-nsprobe-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        File.SetUnixFileMode(dir, (UnixFileMode)0x1ED); // other uids (www-data, nobody) must reach it
        var output = System.IO.Path.Combine(dir, "nsprobe");
        var source = System.IO.Path.Combine(Host.RepoRoot(), "tests", "Supervisor.Sandbox.Tests", "probe", "nsprobe.c");
        Host.Run("gcc", "-static", "-O1", "-Wall", "-Werror", "-o", output, source);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(dir, true);
        return output;
    }

    /// <summary>
    /// The plan of a unit "web" that runs the probe with ARGS, with these [Sandbox] and [Service]
    /// lines; <paramref name="program"/> replaces the probe's path (a copy inside a RootDirectory).
    /// </summary>
    public static ExecPlan Compile(string sandbox, string service, string[] args, string? notifySocket = null, string? program = null)
    {
        using var dir = new TempDir("/run");
        var argv = string.Join(", ", new[] { program ?? Path }.Concat(args).Select(a => $"\"{a}\""));
        File.WriteAllText(dir.Combine("web.toml"), $"[Service]\nExecStart = [{argv}]\n{service}\n\n[Sandbox]\n{sandbox}\n");
        var set = UnitLoader.LoadDirectory(dir.Path);
        Assert.False(set.HasErrors, string.Join("\n", set.Diagnostics));
        return ExecPlanCompiler.Compile(set.Units["web"].Definition, CompileContext.ForHost() with { NotifySocket = notifySocket });
    }

    /// <summary>Runs the probe in the unit's sandbox and returns what it printed.</summary>
    public static Runner.Result Run(string sandbox, params string[] args) => Runner.Run(Compile(sandbox, "", args));

    public static Runner.Result RunAs(string user, string sandbox, params string[] args) =>
        Runner.Run(Compile(sandbox, $"User = \"{user}\"", args));
}
