using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Supervisor.Cgroups;
using Supervisor.Cli.Control;
using Supervisor.Runtime.Cgroups;
using Supervisor.DBus;
using Supervisor.Sandbox;
using Supervisor.Sandbox.Compiler;
using Supervisor.Sandbox.Inspect;
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
        yield return Inspect(output, error);
    }

    private static (UnitDefinition? Unit, int Code) LoadUnit(string name, string unitsDirectory, TextWriter error)
    {
        if (!Directory.Exists(unitsDirectory))
        {
            error.WriteLine($"supervisor: units directory '{unitsDirectory}' does not exist (use --units DIR)");
            return (null, ExitCodes.Failure);
        }
        var set = UnitLoader.LoadDirectory(unitsDirectory);
        if (set.Units.TryGetValue(name, out var parsed) && parsed.Definition.Kind == UnitKind.Service)
            return (parsed.Definition, ExitCodes.Ok);
        foreach (var d in set.DiagnosticsFor(name)) error.WriteLine(d.ToString());
        error.WriteLine(set.BadUnits.ContainsKey(name) ? $"supervisor: unit '{name}' is not valid (bad-setting)"
            : set.Units.ContainsKey(name) ? $"supervisor: '{name}' is a slice; it has no command"
            : $"supervisor: no unit '{name}' in '{unitsDirectory}'" + (Units.Values.Suggest.Hint(name, set.Units.Keys) is { } h ? $"; {h}" : ""));
        return (null, ExitCodes.Failure);
    }

    private static Command Exec(TextWriter output, TextWriter error)
    {
        var unit = new Argument<string>("UNIT") { Description = "the unit whose sandbox and limits to use" };
        var args = new Argument<string[]>("COMMAND") { Description = "after --: a command to run instead of ExecStart (program and arguments)", Arity = ArgumentArity.ZeroOrMore };
        var units = new Option<string>("--units") { Description = "the units directory", DefaultValueFactory = _ => Cli.DefaultUnitsDirectory };
        var execRoot = new Option<string>("--cgroup-root") { Description = "the cgroup subtree for the transient cgroup", DefaultValueFactory = _ => "supervisor" };
        var command = new Command("exec", "Run a unit's ExecStart once in its sandbox and a transient cgroup with its [Resources], in the foreground, without the daemon; exits with its status.")
        { unit, args, units, execRoot };
        command.SetAction(async (r, ct) =>
        {
            if (!LoadOptions.IsRoot)
            {
                error.WriteLine("supervisor: 'exec' must run as root: it creates namespaces and a cgroup (try sudo)");
                return ExitCodes.Failure;
            }
            var (def, code) = LoadUnit(r.GetValue(unit)!, r.GetValue(units)!, error);
            if (def is null) return code;
            var argv = r.GetValue(args) ?? [];
            return await RunAsync(def, argv, r.GetValue(execRoot)!, error, ct);
        });
        return command;
    }

    public static async Task<int> RunAsync(UnitDefinition unit, string[] argv, string cgroupRoot, TextWriter error, CancellationToken cancellationToken)
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
            var limits = ResourceMapping.Map(unit.Resources);
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
            return await RunInAsync(unit, transient, error, cancellationToken);
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

    private static async Task<int> RunInAsync(UnitDefinition unit, TransientCgroup transient, TextWriter error, CancellationToken cancellationToken)
    {
        {
            SandboxProcess process;
            try
            {
                var ctx = CompileContext.ForHost() with { CgroupProcsFiles = [.. transient.Cgroup.ProcsFiles], Stdio = StdioFds.Inherit };
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
                return exit.ExitCode ?? 128 + exit.Signal!.Value;
            }
        }
    }

    private static Command Inspect(TextWriter output, TextWriter error)
    {
        var target = new Argument<string>("UNIT|PID") { Description = "a running unit (asks the daemon for its main PID) or a PID" };
        var units = new Option<string>("--units") { Description = "the units directory (for the declaration to check against)", DefaultValueFactory = _ => Cli.DefaultUnitsDirectory };
        var unitOpt = new Option<string?>("--unit") { Description = "with a PID: the unit whose declaration it should match" };
        var runtime = new Option<string>("--runtime-dir") { Description = "where the daemon's control socket is", DefaultValueFactory = _ => ControlCommands.DefaultRuntimeDirectory };
        var json = new Option<bool>("--json") { Description = "print JSON" };
        var cgroupRoot = new Option<string>("--cgroup-root") { Description = "the daemon's cgroup subtree (as given to 'run')", DefaultValueFactory = _ => "supervisor" };
        var command = new Command("inspect", "Show the live isolation of a unit's process (namespaces, cgroup, capabilities, no_new_privs, seccomp, LSM label, root, mounts), each line checked against the declaration; exit 1 on any mismatch.")
        { target, units, unitOpt, runtime, json, cgroupRoot };
        command.SetAction(async (r, ct) =>
        {
            var what = r.GetValue(target)!;
            string? unitName = r.GetValue(unitOpt);
            int pid;
            if (int.TryParse(what, NumberStyles.None, CultureInfo.InvariantCulture, out var p))
            {
                pid = p;
            }
            else
            {
                unitName = what;
                var found = await MainPidOf(what, r.GetValue(runtime)!, error);
                if (found is null) return ExitCodes.Failure;
                pid = found.Value;
            }
            IsolationState state;
            try
            {
                state = IsolationState.Read(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                error.WriteLine($"supervisor: cannot read process {pid}: {e.Message}");
                return ExitCodes.Failure;
            }
            IReadOnlyList<InspectLine> lines = [];
            if (unitName is not null)
            {
                var (def, code) = LoadUnit(unitName, r.GetValue(units)!, error);
                if (def is null) return code;
                try
                {
                    // The expectation is the plan the unit compiles to now, with the cgroup the daemon uses.
                    var driver = CgroupDriver.Create(CgroupLayout.Detect(), r.GetValue(cgroupRoot)!);
                    var procs = driver.Open(CgroupPath.ForUnit(def.Name, def.Service.Slice)).ProcsFiles;
                    var plan = ExecPlanCompiler.Compile(def, CompileContext.ForHost() with { CgroupProcsFiles = [.. procs] });
                    lines = IsolationCheck.Compare(plan, state);
                }
                catch (PlanCompileException e)
                {
                    error.WriteLine($"supervisor: {e.Message}");
                    return ExitCodes.Failure;
                }
            }
            if (r.GetValue(json))
            {
                output.WriteLine(JsonSerializer.Serialize(new
                {
                    pid,
                    unit = unitName,
                    matches = lines.All(l => l.Result != CheckResult.Mismatch),
                    lines = lines.Select(l => new { property = l.Property, declared = l.Declared, found = l.Found, result = l.Result.ToString().ToLowerInvariant() }),
                    state = new
                    {
                        namespaces = state.Namespaces.ToDictionary(kv => kv.Key, kv => new { inode = kv.Value, own = state.InNewNamespace(kv.Key) }),
                        cgroups = state.Cgroups,
                        uid = state.Uid, gid = state.Gid,
                        capEff = state.CapEff.ToString("x16", CultureInfo.InvariantCulture),
                        capBnd = state.CapBnd.ToString("x16", CultureInfo.InvariantCulture),
                        capAmb = state.CapAmb.ToString("x16", CultureInfo.InvariantCulture),
                        noNewPrivs = state.NoNewPrivs, seccompMode = state.SeccompMode, seccompFilters = state.SeccompFilters,
                        lsm = state.LsmLabel, rootIsHostRoot = state.RootIsHostRoot, mounts = state.Mounts.Length, hostname = state.Hostname,
                    },
                }, new JsonSerializerOptions { WriteIndented = true }));
            }
            else
            {
                output.WriteLine($"process {pid}{(unitName is null ? "" : $" (unit {unitName})")}");
                if (lines.Count == 0)
                {
                    foreach (var (kind, inode) in state.Namespaces.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                        output.WriteLine($"  ns {kind,-7} {inode}{(state.InNewNamespace(kind) ? " (own)" : " (host)")}");
                    output.WriteLine($"  cgroup     {string.Join(", ", state.Cgroups)}");
                    output.WriteLine($"  uid/gid    {state.Uid}/{state.Gid}");
                    output.WriteLine($"  CapEff     {state.CapEff:x16}   CapBnd {state.CapBnd:x16}   CapAmb {state.CapAmb:x16}");
                    output.WriteLine($"  NoNewPrivs {(state.NoNewPrivs ? 1 : 0)}   Seccomp {state.SeccompMode} ({state.SeccompFilters} filters)");
                    output.WriteLine($"  LSM        {state.LsmLabel ?? "-"}   root {(state.RootIsHostRoot ? "host /" : "own")}   mounts {state.Mounts.Length}");
                }
                foreach (var l in lines)
                {
                    var mark = l.Result switch { CheckResult.Match => "ok  ", CheckResult.Mismatch => "DIFF", CheckResult.Skipped => "skip", _ => "    " };
                    output.WriteLine($"  {mark} {l.Property,-22} declared {l.Declared,-28} found {l.Found}");
                }
            }
            return lines.Any(l => l.Result == CheckResult.Mismatch) ? ExitCodes.Failure : ExitCodes.Ok;
        });
        return command;
    }

    private static async Task<int?> MainPidOf(string unit, string runtimeDir, TextWriter error)
    {
        try
        {
            await using var c = await DBusConnection.ConnectAsync(DBusAddress.ForUnixPath(Path.Combine(runtimeDir, "private")));
            var path = (ObjectPath)(await c.CallAsync(ControlApi.BusName, ControlApi.ManagerPath, ControlApi.ManagerInterface, "GetUnit", "s", [unit]))[0];
            var v = (Variant)(await c.CallAsync(ControlApi.BusName, path.ToString(), "org.freedesktop.DBus.Properties", "Get", "ss", [ControlApi.UnitInterface, "MainPID"]))[0];
            var pid = (int)(uint)v.Value;
            if (pid == 0)
            {
                error.WriteLine($"supervisor: unit '{unit}' has no running main process");
                return null;
            }
            return pid;
        }
        catch (DBusErrorException e)
        {
            error.WriteLine($"supervisor: {e.Message}");
            return null;
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or DBusConnectionClosedException)
        {
            error.WriteLine($"supervisor: cannot reach the daemon in '{runtimeDir}' to find '{unit}': {e.Message} (give a PID and --unit instead)");
            return null;
        }
    }
}
