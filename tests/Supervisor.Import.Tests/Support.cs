using Supervisor.Import.Ini;
using Supervisor.Import.Translate;
using Supervisor.Units;

namespace Supervisor.Import.Tests;

/// <summary>A scratch directory of systemd unit files (and an output directory for the TOML units).</summary>
internal sealed class Scratch : IDisposable
{
    public string Dir { get; }
    public string Out => Path.Combine(Dir, "out");

    public Scratch()
    {
        Dir = Path.Combine(Path.GetTempPath(), "supervisor-import-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Dir);
        // /tmp is world-writable; `supervisor check` as root refuses units in a directory others can write.
        File.SetUnixFileMode(Dir, (UnixFileMode)0b111_101_101);
    }

    public string Write(string relative, string text)
    {
        var path = Path.Combine(Dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>Translates one unit written here (with the drop-ins beside it) and runs it through Supervisor's loader, as import does.</summary>
    public Candidate Translate(string fileName, string text)
    {
        Write(fileName, text);
        var result = Importer.Run([Path.Combine(Dir, fileName)], new ImportOptions(Out, CheckOnly: true));
        Assert.DoesNotContain(result.Input, n => n.IsError);
        return Assert.Single(result.Units);
    }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

internal static class CandidateExtensions
{
    /// <summary>The value written for a key, as a plain object (string, long, bool, List&lt;object&gt; …), or null when it is not written.</summary>
    public static object? Value(this Candidate c, string key) => c.Entries.FirstOrDefault(e => e.Spec.Name == key)?.Value;

    public static NotCarried Why(this Candidate c, string key) =>
        c.NotCarried.FirstOrDefault(n => n.Key == key) ?? throw new Xunit.Sdk.XunitException($"'{key}' is not reported; reported: {string.Join(" | ", c.NotCarried)}");

    public static string Toml(this Candidate c) => Supervisor.Import.Output.TomlText.Render(c);
}

/// <summary>Runs the `supervisor` command line in-process.</summary>
internal static class Cli
{
    public static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await Supervisor.Cli.Cli.RunAsync(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}

/// <summary>Runs a program (systemd's tools) and returns its output; a failure fails the test with its stderr.</summary>
internal static class Programs
{
    public static string Run(string program, params string[] args)
    {
        if (!File.Exists("/usr/bin/" + program) && !File.Exists("/bin/" + program) && !File.Exists(program))
            Assert.Skip($"{program} is not installed (Debian package systemd)");
        var psi = new System.Diagnostics.ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["SYSTEMD_COLORS"] = "0";
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{program} {string.Join(' ', args)}: exit {p.ExitCode}: {stderr}");
        return stdout.Result;
    }
}
