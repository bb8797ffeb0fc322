using System.CommandLine;
using Supervisor.Cli.Commands;

namespace Supervisor.Cli;

/// <summary>The `supervisor` command line: one binary hosting every subcommand.</summary>
public static class Cli
{
    public const string DefaultUnitsDirectory = "/etc/supervisor/units";

    public static RootCommand Build(TextWriter output, TextWriter error) => Build(output, error, out _);

    public static RootCommand Build(TextWriter output, TextWriter error, out Option<string?> bus)
    {
        var root = new RootCommand("Supervisor: runs services declared in TOML unit files, each in the sandbox and cgroup it declares.");
        bus = ControlCommands.NewBusOption();
        root.Add(bus);
        root.Add(CheckCommand.Build(output, error));
        root.Add(ShowCommand.Build(output, error));
        root.Add(ImportCommand.Build(output, error));
        root.Add(RunCommand.Build(output, error));
        foreach (var c in ControlCommands.Build(output, error)) root.Add(c);
        foreach (var c in SandboxCommands.Build(output, error)) root.Add(c);
        return root;
    }

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        try
        {
            var root = Build(output, error, out var bus);
            var parsed = root.Parse(args);
            // An argument that looks like an option but is not one (and is no existing path) is a typo.
            // Everything after "--" is the user's own command line (supervisor exec UNIT -- sh -c …).
            var unknown = parsed.Tokens
                .TakeWhile(t => t.Type != System.CommandLine.Parsing.TokenType.DoubleDash)
                .Where(t => t.Type == System.CommandLine.Parsing.TokenType.Argument && t.Value.StartsWith('-') && t.Value.Length > 1
                    && !File.Exists(t.Value) && !Directory.Exists(t.Value))
                .Select(t => $"unknown option '{t.Value}'");
            var errors = parsed.Errors.Select(e => e.Message).Concat(unknown).ToList();
            ControlCommands.UseBus(parsed.GetValue(bus));
            if (errors.Count > 0)
            {
                foreach (var e in errors)
                    error.WriteLine($"supervisor: {e}");
                error.WriteLine("Run 'supervisor --help' for usage.");
                return ExitCodes.Usage;
            }
            return await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            error.WriteLine($"supervisor: internal error: {e.Message}");
            return ExitCodes.Internal;
        }
    }
}
