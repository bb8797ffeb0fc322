using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Supervisor.Cgroups;
using Supervisor.Cli.Control;
using Supervisor.Sandbox;
using Supervisor.Sandbox.Compiler;
using Supervisor.Sandbox.Inspect;
using Command = System.CommandLine.Command;

namespace Supervisor.Cli.Commands;

/// <summary>
/// `supervisor inspect UNIT|PID`: the live isolation of a process read from /proc, each line
/// checked against the plan its unit's declaration compiles to. For a unit, the daemon names its
/// main process, its units directory and its cgroup subtree.
/// </summary>
internal static class InspectCommand
{
    public static Command Build(TextWriter output, TextWriter error)
    {
        var target = new Argument<string>("UNIT|PID") { Description = "a running unit (asks the daemon for its main PID) or a PID" };
        var unitOpt = new Option<string?>("--unit") { Description = "with a PID: the unit whose declaration it should match" };
        var json = ControlCommands.Json();
        var source = SandboxCommands.SourceOptions.Create("the units directory (for the declaration to check against)", "the daemon's cgroup subtree (as given to 'run')");
        var command = new Command("inspect", "Show the live isolation of a unit's process (namespaces, cgroup, capabilities, no_new_privs, seccomp, LSM label, root, mounts), each line checked against the declaration; exit 1 on any mismatch.")
        { target, source.Units, unitOpt, source.Runtime, json, source.CgroupRoot, source.Timeout };
        command.SetAction(async (r, _) =>
        {
            if (await ResolveTargetAsync(r, r.GetValue(target)!, unitOpt, source, error) is not var (pid, unitName, paths)) return ExitCodes.Failure;
            if (ReadState(pid, error) is not { } state) return ExitCodes.Failure;
            IReadOnlyList<InspectLine> lines = [];
            if (unitName is not null)
            {
                if (await CompareAsync(unitName, paths!, state, source.Client(r), error) is not { } compared) return ExitCodes.Failure;
                lines = compared;
            }
            if (r.GetValue(json)) JsonOutput.Print(output, w => WriteJson(w, pid, unitName, lines, state));
            else PrintText(output, pid, unitName, lines, state);
            return lines.Any(l => l.Result == CheckResult.Mismatch) ? ExitCodes.Failure : ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>
    /// The process, its unit and where that unit is declared. A PID needs no daemon (its unit's
    /// declaration is looked up as `show` does); a unit name asks the daemon for all three at once.
    /// </summary>
    private static async Task<(int Pid, string? Unit, DaemonPaths? Paths)?> ResolveTargetAsync(ParseResult r, string what, Option<string?> unitOpt,
        SandboxCommands.SourceOptions source, TextWriter error)
    {
        if (int.TryParse(what, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
        {
            var unit = r.GetValue(unitOpt);
            return (pid, unit, unit is null ? null : source.Resolve(r, error, unit));
        }
        (int Pid, string? Unit, DaemonPaths? Paths)? found = null;
        bool connected = false;
        DaemonClient.Run(source.Client(r), error, c =>
        {
            try
            {
                var path = (DBus.ObjectPath)c.ManagerCall("GetUnit", "s", what)[0];
                var mainPid = (int)(uint)c.Get(path.ToString(), ControlApi.UnitInterface, "MainPID");
                if (mainPid == 0)
                {
                    error.WriteLine($"supervisor: unit '{what}' has no running main process");
                    return ExitCodes.Failure;
                }
                found = (mainPid, what, DaemonPaths.Ask(c, what).Override(r.GetValue(source.Units), r.GetValue(source.CgroupRoot)));
                return ExitCodes.Ok;
            }
            finally
            {
                connected = c.Answered;
            }
        });
        if (!connected)
            error.WriteLine("supervisor: to inspect a process without the daemon, give its PID and --unit UNIT");
        return found;
    }

    internal static IsolationState? ReadState(int pid, TextWriter error)
    {
        try
        {
            return IsolationState.Read(pid);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            error.WriteLine($"supervisor: cannot read process {pid}: {e.Message}");
            return null;
        }
    }

    /// <summary>The expectation is the plan the unit compiles to now, with the cgroup and the dynamic uid the daemon uses.</summary>
    private static async Task<IReadOnlyList<InspectLine>?> CompareAsync(string unitName, DaemonPaths paths, IsolationState state, ClientOptions client, TextWriter error)
    {
        var (def, _) = SandboxCommands.LoadUnit(unitName, paths, error);
        return def is null ? null : await CompareAsync(def, paths, state, client, error);
    }

    /// <summary>The inspect lines of a unit's declaration against its process (also what `security` scores a running unit by).</summary>
    internal static async Task<IReadOnlyList<InspectLine>?> CompareAsync(Units.Model.UnitDefinition def, DaemonPaths paths, IsolationState state, ClientOptions client, TextWriter error)
    {
        var dynamicUser = SandboxCommands.DynamicUserOf(def, client, error);
        try
        {
            var driver = CgroupDriver.Create(CgroupLayout.Detect(), paths.CgroupRoot);
            var procs = driver.Open(CgroupPath.ForUnit(def.Name, def.Service.Slice)).ProcsFiles;
            var plan = ExecPlanCompiler.Compile(def, CompileContext.ForHost() with { CgroupProcsFiles = [.. procs], DynamicUser = dynamicUser });
            return [.. IsolationCheck.Compare(plan, state), .. AccessLines(driver, def, paths)];
        }
        catch (PlanCompileException e)
        {
            error.WriteLine($"supervisor: {e.Message}");
            return null;
        }
    }

    /// <summary>
    /// DevicePolicy, DeviceAllow, IPAddressAllow/Deny and SocketBindAllow/Deny, checked where the
    /// kernel enforces them: the unit cgroup's devices.list (v1) or the BPF programs attached to it (v2).
    /// </summary>
    private static IEnumerable<InspectLine> AccessLines(ICgroupDriver driver, Units.Model.UnitDefinition def, DaemonPaths paths)
    {
        try
        {
            var set = Units.UnitLoader.LoadDirectory(paths.UnitsDirectory);
            var slices = def.Service.Slice is { } slice
                ? Units.Model.SliceNames.Chain(slice).Select(n => set.Units.TryGetValue(n, out var p) ? p.Definition.Resources : null)
                : [];
            var limits = Runtime.Cgroups.ResourceMapping.Map(Supervisor.Units.Model.ResourceImplications.EffectiveResources(def), slices);
            return [.. driver.Open(CgroupPath.ForUnit(def.Name, def.Service.Slice)).CheckAccess(limits)
                .Select(a => new InspectLine(a.Key, a.Declared, a.Found, a.Matches ? CheckResult.Match : CheckResult.Mismatch))];
        }
        catch (CgroupException e)
        {
            return [new InspectLine("cgroup access", "readable", e.Message, CheckResult.Mismatch)];
        }
    }

    private static void PrintText(TextWriter output, int pid, string? unitName, IReadOnlyList<InspectLine> lines, IsolationState state)
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
            var mark = l.Result switch { CheckResult.Match => "ok  ", CheckResult.Mismatch => "DIFF", CheckResult.Skipped => "skip", CheckResult.Unavailable => "lack", _ => "    " };
            output.WriteLine($"  {mark} {l.Property,-22} declared {l.Declared,-28} found {l.Found}");
        }
    }

    private static void WriteJson(Utf8JsonWriter w, int pid, string? unitName, IReadOnlyList<InspectLine> lines, IsolationState state)
    {
        w.WriteStartObject();
        w.WriteNumber("pid", pid);
        if (unitName is null) w.WriteNull("unit");
        else w.WriteString("unit", unitName);
        w.WriteBoolean("matches", lines.All(l => l.Result != CheckResult.Mismatch));
        w.WriteStartArray("lines");
        foreach (var l in lines)
        {
            w.WriteStartObject();
            w.WriteString("property", l.Property);
            w.WriteString("declared", l.Declared);
            w.WriteString("found", l.Found);
            w.WriteString("result", l.Result.ToString().ToLowerInvariant());
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WritePropertyName("state");
        WriteState(w, state);
        w.WriteEndObject();
    }

    private static void WriteState(Utf8JsonWriter w, IsolationState state)
    {
        w.WriteStartObject();
        w.WriteStartObject("namespaces");
        foreach (var (kind, inode) in state.Namespaces.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            w.WriteStartObject(kind);
            w.WriteNumber("inode", inode);
            w.WriteBoolean("own", state.InNewNamespace(kind));
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteStartArray("cgroups");
        foreach (var cgroup in state.Cgroups) w.WriteStringValue(cgroup);
        w.WriteEndArray();
        w.WriteNumber("uid", state.Uid);
        w.WriteNumber("gid", state.Gid);
        w.WriteString("capEff", state.CapEff.ToString("x16", CultureInfo.InvariantCulture));
        w.WriteString("capBnd", state.CapBnd.ToString("x16", CultureInfo.InvariantCulture));
        w.WriteString("capAmb", state.CapAmb.ToString("x16", CultureInfo.InvariantCulture));
        w.WriteBoolean("noNewPrivs", state.NoNewPrivs);
        w.WriteNumber("seccompMode", state.SeccompMode);
        w.WriteNumber("seccompFilters", state.SeccompFilters);
        if (state.LsmLabel is null) w.WriteNull("lsm");
        else w.WriteString("lsm", state.LsmLabel);
        w.WriteBoolean("rootIsHostRoot", state.RootIsHostRoot);
        w.WriteNumber("mounts", state.Mounts.Length);
        if (state.Hostname is null) w.WriteNull("hostname");
        else w.WriteString("hostname", state.Hostname);
        w.WriteEndObject();
    }
}
