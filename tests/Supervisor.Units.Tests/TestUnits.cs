using Supervisor.Units.Model;
using Supervisor.Units.Syntax;

namespace Supervisor.Units.Tests;

/// <summary>Builds unit directories in a temp folder and parses TOML text directly.</summary>
internal sealed class TempUnits : IDisposable
{
    public string Dir { get; }

    /// <param name="under">
    /// The parent directory; /tmp by default. Tests that judge every directory from / down need
    /// one no other user can write (e.g. /run), since /tmp itself is world-writable.
    /// </param>
    public TempUnits(string? under = null)
    {
        Dir = Path.Combine(under ?? Path.GetTempPath(), "supervisor-units-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Dir);
        // /tmp is world-writable; the test directory itself must not be, or root refuses it.
        File.SetUnixFileMode(Dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
    }

    public string Write(string relative, string text)
    {
        var path = Path.Combine(Dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    public string WriteBytes(string relative, byte[] bytes)
    {
        var path = Path.Combine(Dir, relative);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public UnitSet Load() => UnitLoader.LoadDirectory(Dir);

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

internal static class Parse
{
    public const string MinimalService = "[Service]\nExecStart = [\"/bin/true\"]\n";

    /// <summary>Parses one service from text; returns the unit (or null) and the diagnostics.</summary>
    public static (UnitDefinition? Unit, List<Diagnostic> Diagnostics) Service(string text, string name = "svc", UnitKind kind = UnitKind.Service)
    {
        var diagnostics = new List<Diagnostic>();
        var doc = UnitFileReader.Parse(System.Text.Encoding.UTF8.GetBytes(text), name + ".toml", name, diagnostics);
        if (doc is null) return (null, diagnostics);
        var parsed = UnitParser.Parse(name, kind, [doc], diagnostics);
        return (parsed?.Definition, diagnostics);
    }

    public static UnitDefinition Valid(string text, string name = "svc", UnitKind kind = UnitKind.Service)
    {
        var (unit, diagnostics) = Service(text, name, kind);
        Assert.True(unit is not null, "expected a valid unit, got: " + string.Join("\n", diagnostics));
        Assert.DoesNotContain(diagnostics, d => d.Severity == Severity.Error);
        return unit!;
    }

    public static Diagnostic SingleError(string text, string name = "svc", UnitKind kind = UnitKind.Service)
    {
        var (unit, diagnostics) = Service(text, name, kind);
        Assert.Null(unit);
        var errors = diagnostics.Where(d => d.Severity == Severity.Error).ToList();
        Assert.True(errors.Count == 1, "expected one error, got:\n" + string.Join("\n", diagnostics));
        return errors[0];
    }
}
