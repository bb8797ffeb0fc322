using System.Net;
using System.Net.Sockets;
using System.Text;
using Supervisor.Sandbox.Compiler;
using Supervisor.Sandbox.Inspect;
using Supervisor.Sandbox.Tests.Support;
using Supervisor.Units;
using Supervisor.Units.Model;
using Supervisor.Units.Syntax;

namespace Supervisor.Sandbox.Tests;

/// <summary>
/// Landlock against the real kernel: a unit file with the keys runs the probe
/// (probe/kernel_probe.c) through the helper, and what is outside the rules fails with EACCES
/// from inside, while the same probe without the keys succeeds. Skipped, never passed, on a
/// kernel without Landlock or without the ABI a test needs.
/// </summary>
public class LandlockTests
{
    private const string Eacces = "fail 13";

    private static string ProbeDir => Path.GetDirectoryName(KernelProbe.Path)!;

    private static UnitDefinition Unit(string sandbox, params string[] argv)
    {
        string exec = string.Join(", ", new[] { KernelProbe.Path }.Concat(argv).Select(a => $"\"{a}\""));
        var text = $"[Service]\nExecStart = [{exec}]\n[Sandbox]\n{sandbox}\n";
        var diagnostics = new List<Diagnostic>();
        var doc = UnitFileReader.Parse(Encoding.UTF8.GetBytes(text), "probe.toml", "probe", diagnostics);
        var parsed = doc is null ? null : UnitParser.Parse("probe", UnitKind.Service, [doc], diagnostics);
        Assert.True(parsed is not null, string.Join("\n", diagnostics));
        return parsed!.Definition;
    }

    private static ExecPlan Compile(string sandbox, params string[] argv) => ExecPlanCompiler.Compile(Unit(sandbox, argv), CompileContext.ForHost());

    private static string Run(string sandbox, params string[] argv) => Runner.Run(Compile(sandbox, argv)).Line;

    /// <summary>The probe may run from its own directory, and nothing else unless the test adds it.</summary>
    private static string Confined(string more) => $"LandlockExecutePaths = [\"{ProbeDir}\"]\n{more}";

    private static void RequireAbi(int abi)
    {
        Host.RequireRoot();
        if (Linux.Landlock.Abi < abi)
            Assert.Skip(Linux.Landlock.Abi == 0 ? $"no Landlock: {Linux.Landlock.Unavailable}" : $"needs Landlock ABI {abi}, this kernel has {Linux.Landlock.Abi}");
    }

    /// <summary>A loopback TCP port nobody listens on now, picked by the kernel.</summary>
    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    [Fact]
    public void A_file_outside_the_rules_is_refused_and_a_listed_file_is_read()
    {
        RequireAbi(1);
        var rules = Confined("LandlockReadOnlyPaths = [\"/etc/hostname\"]");
        Assert.Equal(Eacces, Run(rules, "read", "/etc/passwd"));
        Assert.Equal("ok", Run(rules, "read", "/etc/hostname"));
        Assert.Equal("ok", Run("", "read", "/etc/passwd"));
        Assert.Equal("ok", Run("", "read", "/etc/hostname"));
    }

    [Fact]
    public void Writing_below_a_read_only_path_is_refused_and_below_a_read_write_path_works()
    {
        RequireAbi(1);
        using var dir = new TempDir("/run");
        File.WriteAllText(dir.Combine("existing"), "data");
        var readOnly = Confined($"LandlockReadOnlyPaths = [\"{dir.Path}\"]");
        Assert.Equal(Eacces, Run(readOnly, "write", dir.Combine("new")));
        Assert.Equal(Eacces, Run(readOnly, "write", dir.Combine("existing")));
        Assert.Equal("ok", Run(readOnly, "read", dir.Combine("existing")));
        Assert.False(File.Exists(dir.Combine("new")));
        Assert.Equal("ok", Run(Confined($"LandlockReadWritePaths = [\"{dir.Path}\"]"), "write", dir.Combine("new")));
        Assert.Equal("ok", Run("", "write", dir.Combine("other")));
    }

    [Fact]
    public void A_port_outside_the_rules_cannot_be_bound_and_both_bind_without_the_keys()
    {
        RequireAbi(LandlockAccess.NetworkAbi);
        int allowed = FreePort(), other = FreePort();
        var rules = $"LandlockBindPorts = [{allowed}]";
        Assert.Equal("ok", Run(rules, "bind", allowed.ToString()));
        Assert.Equal(Eacces, Run(rules, "bind", other.ToString()));
        Assert.Equal("ok", Run("", "bind", allowed.ToString()));
        Assert.Equal("ok", Run("", "bind", other.ToString()));
    }

    [Fact]
    public void A_port_outside_the_connect_rules_is_refused_before_the_network_answers()
    {
        RequireAbi(LandlockAccess.NetworkAbi);
        int allowed = FreePort(), other = FreePort();
        var rules = $"LandlockConnectPorts = [{allowed}]";
        const string refusedByNobodyListening = "fail 111"; // ECONNREFUSED: the connect got through Landlock
        Assert.Equal(refusedByNobodyListening, Run(rules, "connect", allowed.ToString()));
        Assert.Equal(Eacces, Run(rules, "connect", other.ToString()));
        Assert.Equal(refusedByNobodyListening, Run("", "connect", other.ToString()));
        // Bind is not handled when only connect is declared.
        Assert.Equal("ok", Run(rules, "bind", other.ToString()));
    }

    [Fact]
    public void Signal_scope_refuses_signals_to_processes_outside_the_domain()
    {
        RequireAbi(LandlockAccess.ScopeAbi);
        string self = Environment.ProcessId.ToString();
        Assert.Equal("fail 1", Run("LandlockScope = [\"signal\"]", "signal", self));
        Assert.Equal("ok", Run("", "signal", self));
    }

    [Fact]
    public void Abstract_unix_socket_scope_refuses_a_listener_outside_the_domain()
    {
        RequireAbi(LandlockAccess.ScopeAbi);
        string name = "sbx-landlock-" + Guid.NewGuid().ToString("N")[..8];
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint("\0" + name));
        listener.Listen(8);
        Assert.Equal("fail 1", Run("LandlockScope = [\"abstract-unix-socket\"]", "connect-abstract", name));
        Assert.Equal("ok", Run("LandlockScope = [\"signal\"]", "connect-abstract", name));
        Assert.Equal("ok", Run("", "connect-abstract", name));
    }

    [Fact]
    public void A_missing_path_fails_the_start_by_name_unless_it_has_the_dash()
    {
        RequireAbi(1);
        var e = Assert.Throws<SandboxSetupException>(() => Runner.Run(Compile(Confined("LandlockReadOnlyPaths = [\"/etc/hostname\", \"/nonexistent-sbx\"]"), "read", "/etc/hostname")));
        Assert.Equal(SetupStep.LandlockPath, e.Step);
        Assert.Contains("'/nonexistent-sbx' (LandlockReadOnlyPaths)", e.Message);
        Assert.Equal("ok", Run(Confined("LandlockReadOnlyPaths = [\"/etc/hostname\", \"-/nonexistent-sbx\"]"), "read", "/etc/hostname"));
    }

    [Fact]
    public void A_program_outside_the_execute_paths_fails_to_start_with_the_reason()
    {
        RequireAbi(1);
        var e = Assert.Throws<SandboxSetupException>(() => Runner.Run(Compile("LandlockReadOnlyPaths = [\"/etc\"]", "read", "/etc/hostname")));
        Assert.Equal(SetupStep.Exec, e.Step);
        Assert.Contains("must be below LandlockExecutePaths", e.Message);
    }

    [Fact]
    public void The_service_runs_with_no_new_privs_and_inspect_says_the_ruleset_is_not_observable()
    {
        RequireAbi(1);
        var plan = Compile(Confined("LandlockReadOnlyPaths = [\"/etc\"]"), "sleep");
        Assert.True(plan.NoNewPrivileges);
        using var run = new Runner.Running(plan);
        var status = File.ReadAllLines($"/proc/{run.ServicePid}/status");
        Assert.Contains("NoNewPrivs:\t1", status);
        var line = Assert.Single(IsolationCheck.Compare(plan, IsolationState.Read(run.ServicePid)), l => l.Property == "landlock");
        Assert.Equal(CheckResult.Info, line.Result);
        Assert.Equal("not observable from /proc", line.Found);
        Assert.StartsWith($"ABI {Linux.Landlock.Abi}: filesystem (2 paths)", line.Declared);
    }
}
