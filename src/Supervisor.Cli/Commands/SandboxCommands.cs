using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Supervisor.Cgroups;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Credentials;
using Supervisor.Sandbox;
using Supervisor.Sandbox.Compiler;
using Supervisor.Sandbox.Launch;
using Supervisor.Units;
using Supervisor.Units.Model;
using Command = System.CommandLine.Command;
using UnitCommand = Supervisor.Units.Model.Command;

namespace Supervisor.Cli.Commands;

/// <summary>
/// `supervisor exec` (run a unit's command once in its sandbox and a transient cgroup with its
/// limits, without the daemon) and `supervisor inspect` (the live isolation of a unit's process,
/// checked against its declaration).
/// </summary>
public static class SandboxCommands
{
    public static IEnumerable<Command> Build(TextWriter output, TextWriter error)
    {
        yield return Exec(output, error);
        yield return InspectCommand.Build(output, error);
        yield return SecurityCommand.Build(output, error);
    }

    internal static (UnitDefinition? Unit, int Code) LoadUnit(string name, DaemonPaths paths, TextWriter error)
    {
        var unitsDirectory = paths.UnitsDirectory;
        if (!Directory.Exists(unitsDirectory))
        {
            error.WriteLine($"supervisor: units directory {paths.DescribeUnits()} does not exist (use --units DIR)");
            return (null, ExitCodes.Failure);
        }
        var set = UnitLoader.LoadDirectory(unitsDirectory);
        if (set.Units.TryGetValue(name, out var parsed) && parsed.Definition.Kind == UnitKind.Service)
            return (parsed.Definition, ExitCodes.Ok);
        foreach (var d in set.DiagnosticsFor(name)) error.WriteLine(d.ToString());
        error.WriteLine(set.BadUnits.ContainsKey(name) ? $"supervisor: unit '{name}' is not valid (bad-setting)"
            : set.Units.ContainsKey(name) ? $"supervisor: '{name}' is a slice; it has no command"
            : $"supervisor: no unit '{name}' in {paths.DescribeUnits()}" + (Units.Values.Suggest.Hint(name, set.Units.Keys) is { } h ? $"; {h}" : ""));
        return (null, ExitCodes.Failure);
    }

    /// <summary>--units, --cgroup-root, --runtime-dir and --timeout: where the declaration is, or which daemon to ask.</summary>
    internal sealed record SourceOptions(Option<string?> Units, Option<string?> CgroupRoot, Option<string> Runtime, Option<TimeSpan?> Timeout)
    {
        public static SourceOptions Create(string unitsDescription, string cgroupDescription) => new(
            new Option<string?>("--units") { Description = $"{unitsDescription} (default: the running daemon's, else {Cli.DefaultUnitsDirectory})" },
            new Option<string?>("--cgroup-root") { Description = $"{cgroupDescription} (default: the running daemon's, else {DaemonPaths.DefaultCgroupRoot})" },
            ClientOptions.RuntimeDirOption(), ClientOptions.TimeoutOption());

        public ClientOptions Client(ParseResult r) => ClientOptions.From(r, Runtime, Timeout);

        public DaemonPaths Resolve(ParseResult r, TextWriter error, string unit) =>
            DaemonPaths.WithUnits(r.GetValue(Units), r.GetValue(CgroupRoot), Client(r), error, unit);
    }

    private static Command Exec(TextWriter output, TextWriter error)
    {
        var unit = new Argument<string>("UNIT") { Description = "the unit whose sandbox and limits to use" };
        var args = new Argument<string[]>("COMMAND") { Description = "after --: a command to run instead of ExecStart (program and arguments)", Arity = ArgumentArity.ZeroOrMore };
        var source = SourceOptions.Create("the units directory", "the cgroup subtree for the transient cgroup");
        var command = new Command("exec", "Run a unit's ExecStart once in its sandbox and a transient cgroup with its [Resources], in the foreground, without the daemon; exits with its status.")
        { unit, args, source.Units, source.CgroupRoot, source.Runtime, source.Timeout };
        command.SetAction(async (r, ct) =>
        {
            if (!LoadOptions.IsRoot)
            {
                error.WriteLine("supervisor: 'exec' must run as root: it creates namespaces and a cgroup (try sudo)");
                return ExitCodes.Failure;
            }
            var name = r.GetValue(unit)!;
            var paths = source.Resolve(r, error, name);
            var (def, code) = LoadUnit(name, paths, error);
            if (def is null) return code;
            var argv = r.GetValue(args) ?? [];
            return await RunAsync(def, argv, paths.CgroupRoot, error, ct, DynamicUserOf(def, source.Client(r), error));
        });
        return command;
    }

    /// <summary>
    /// The uid/gid pair a DynamicUser unit runs as: the running daemon's for it when it is up, else
    /// the first free uid its user name hashes to (what the daemon would allocate, unless taken
    /// there). Null for a unit that needs none.
    /// </summary>
    internal static DynamicUserAllocation? DynamicUserOf(UnitDefinition unit, ClientOptions options, TextWriter error)
    {
        var users = UserDatabase.Load();
        if (ExecPlanCompiler.DynamicUserToAllocate(unit, users) is not { } name) return null;
        var running = DaemonClient.TryAsk(options, error, c =>
        {
            var p = c.UnitProperties(unit.Name);
            return p.TryGetValue("UID", out var uid) && uid is uint u && u != uint.MaxValue && p.TryGetValue("GID", out var gid) && gid is uint g
                ? new DynamicUserAllocation(name, u, g) : null;
        });
        try
        {
            return running ?? DynamicUsers.Transient(name, users, new IpcObjects());
        }
        catch (DynamicUserException e)
        {
            error.WriteLine($"supervisor: {unit.Name}: {e.Message}");
            return null;
        }
    }

    public static async Task<int> RunAsync(UnitDefinition unit, string[] argv, string cgroupRoot, TextWriter error, CancellationToken cancellationToken,
        DynamicUserAllocation? dynamicUser = null)
    {
        if (argv.Length > 0)
            unit = unit with { Service = unit.Service with { ExecStart = new UnitCommand(new ValueList<string>(argv), false) } };
        ICgroupDriver driver;
        TransientCgroup transient;
        List<string> createdRoots;
        try
        {
            driver = CgroupDriver.Create(CgroupLayout.Detect(), cgroupRoot);
            // The subtree is shared with a daemon using the same root; remember which of its
            // directories this command created, so it removes exactly those (when empty) at the end.
            createdRoots = driver.Subtrees.Where(d => !Directory.Exists(d)).ToList();
            driver.PrepareRoot();
            var limits = ResourceMapping.Map(unit.EffectiveResources());
            foreach (var u in driver.CannotHonour(limits)) error.WriteLine($"supervisor: {unit.Name}: note: {u}");
            var name = $"exec-{unit.Name}-{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}";
            transient = TransientCgroup.Create(driver, name, limits);
        }
        catch (CgroupException e)
        {
            error.WriteLine($"supervisor: {unit.Name}: {e.Message}");
            return ExitCodes.Failure;
        }
        try
        {
            return await RunInAsync(unit, transient, dynamicUser, error, cancellationToken);
        }
        finally
        {
            await transient.DisposeAsync();
            foreach (var dir in createdRoots)
            {
                try { Directory.Delete(dir); } catch (IOException) { } // not empty: a daemon's units live there now
            }
        }
    }

    private static async Task<int> RunInAsync(UnitDefinition unit, TransientCgroup transient, DynamicUserAllocation? dynamicUser, TextWriter error, CancellationToken cancellationToken)
    {
        {
            SandboxProcess process;
            try
            {
                var ctx = CompileContext.ForHost() with { CgroupProcsFiles = [.. transient.Cgroup.ProcsFiles], Stdio = StdioFds.Inherit, DynamicUser = dynamicUser };
                process = SandboxLauncher.Start(ExecPlanCompiler.Compile(unit, ctx), unit.Name);
            }
            catch (Exception e) when (e is PlanCompileException or SandboxSetupException or HelperNotFoundException)
            {
                error.WriteLine($"supervisor: {e.Message}");
                return ExitCodes.Failure;
            }
            using (process)
            {
                // Ctrl-C and SIGTERM go to the service (through its init with a pid namespace), not to us.
                using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; process.Signal(2); });
                using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; process.Signal(15); });
                var exit = await process.WaitForExitAsync(cancellationToken);
                return exit.ShellStatus ?? ExitCodes.Failure; // the code, or 128 + the signal (ExitInfo owns that rule)
            }
        }
    }
}
