using Microsoft.Extensions.Logging;
using Supervisor.Sandbox.Compiler;
using Supervisor.Supervision;
using Supervisor.Units;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Tests;

/// <summary>A units directory in a temp folder, parsed with the real loader.</summary>
internal sealed class TempDir : IDisposable
{
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "supervisor-runtime-test-" + Guid.NewGuid().ToString("N"));

    public TempDir()
    {
        Directory.CreateDirectory(Dir);
        File.SetUnixFileMode(Dir, (UnixFileMode)0b111_101_101);
    }

    public string Write(string relative, string text)
    {
        var path = Path.Combine(Dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    public UnitSet Load()
    {
        var set = UnitLoader.LoadDirectory(Dir);
        Assert.DoesNotContain(set.Diagnostics, d => d.Severity == Severity.Error);
        return set;
    }

    public UnitDefinition Unit(string name) => Load().Units[name].Definition;

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Events the runtime posts, kept for the test to look at.</summary>
internal sealed class RecordingSink : IUnitEventSink
{
    private readonly List<(string Unit, UnitEvent Event)> _events = [];

    public void Post(string unit, UnitEvent e)
    {
        lock (_events) _events.Add((unit, e));
    }

    public IReadOnlyList<(string Unit, UnitEvent Event)> Events
    {
        get { lock (_events) return [.. _events]; }
    }
}

/// <summary>Lines the runtime logs, by unit.</summary>
internal sealed class RecordingLog
{
    private readonly List<string> _lines = [];

    public void Write(string unit, string line)
    {
        lock (_lines) _lines.Add($"{unit}: {line}");
    }

    public IReadOnlyList<string> Lines
    {
        get { lock (_lines) return [.. _lines]; }
    }
}

internal static class Wait
{
    /// <summary>Waits for the condition itself; the limit only turns a hang into a failure.</summary>
    public static void Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"still waiting for {what}");
            Thread.Sleep(10);
        }
    }

    public static CompileContext HostContext() => CompileContext.ForHost();

    public static ILogger NullLogger => Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
}
