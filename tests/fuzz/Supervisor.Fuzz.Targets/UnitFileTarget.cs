using System.Text;
using System.Text.Json;
using Supervisor.Units;
using Supervisor.Units.Model;
using Supervisor.Units.Syntax;

namespace Supervisor.Fuzz;

/// <summary>
/// The unit-file reader: what <c>supervisor check FILE</c> runs (UnitFileReader → UnitParser →
/// UnitLoader's checks across units), on a file written from the input. Contracts checked:
/// <list type="bullet">
/// <item>nothing throws: every problem is a <see cref="Diagnostic"/> (the reader's only error channel);</item>
/// <item>reading and parsing stay within <see cref="Bound"/>;</item>
/// <item>every diagnostic names this unit and one of its files, at a line that exists, in one
/// printable line (what <c>check</c> prints), and renders as <c>check --json</c> does;</item>
/// <item>a valid unit survives <c>supervisor show</c>: its TOML parses back to the same unit.</item>
/// </list>
/// Input format: the bytes are the unit file. A first line <c># slice</c> names it
/// <c>fuzz.slice.toml</c> (a slice) instead of <c>fuzz.toml</c>; every line <c># drop-in</c>
/// starts a drop-in (<c>fuzz.toml.d/N.toml</c>, at most <see cref="MaxDropIns"/>). Both
/// markers are TOML comments, so a corpus file is still a unit file a person can read.
/// </summary>
public sealed class UnitFileTarget : IFuzzTarget
{
    public const string SliceMarker = "# slice";
    public const string DropInMarker = "# drop-in";
    public const int MaxDropIns = 4;

    /// <summary>
    /// UnitFileReader reads each file into a buffer of Limits.MaxFileBytes + 1 bytes (so an
    /// endless file costs nothing), hence PerFile. Then the text (UTF-16), Tomlyn's syntax tree,
    /// which keeps every token with its trivia, our TomlValue tree, the typed unit and a
    /// diagnostic per problem: a blank line costs about 150 bytes, "1," in an array about 500,
    /// a line of an unknown key about 1 200 (measured over the corpus and files of thousands
    /// of tiny lines of each kind: at most about 310 bytes a byte). 1 024 a byte leaves room for
    /// what AFL combines, and still catches growth faster than the input: the quadratic merge
    /// of dotted keys cost 4 500 bytes a byte at 47 KB and more the longer the file. The
    /// constant covers the tables and diagnostics of a near-empty file (at most about 70 KiB
    /// measured). A file of the largest size, 1 MiB, may thus cost 1 GiB + 1 MiB + 256 KiB.
    /// </summary>
    public static readonly AllocationBound Bound = new(
        "reading and parsing a unit file", PerInputByte: 1024, PerFile: Limits.MaxFileBytes + 1, Constant: 256 * 1024);

    private readonly string _directory;
    private readonly AllocationBound _bound;
    private bool _warm;

    /// <param name="bound">The allocation bound to enforce; <see cref="Bound"/> unless a test checks the check.</param>
    public UnitFileTarget(string scratchDirectory, AllocationBound? bound = null)
    {
        _bound = bound ?? Bound;
        _directory = Path.Combine(scratchDirectory, "units");
        Directory.CreateDirectory(_directory);
    }

    public string Name => FuzzTargets.UnitFile;

    public string Run(byte[] input)
    {
        WarmUp();
        var files = UnitFileInput.Write(input, _directory);
        var diagnostics = new List<Diagnostic>();
        var parsed = _bound.Measure(input.Length, files.All.Count, () => ReadAndParse(files, diagnostics));

        UnitSet set;
        try
        {
            set = UnitLoader.Load([files.UnitFile], new LoadOptions { RequireRootOwnership = false });
        }
        catch (Exception e)
        {
            throw new FuzzFindingException($"UnitLoader.Load threw {e.GetType().Name}; it reports every problem as a diagnostic", e);
        }
        UnitDiagnosticChecks.Check(set.Diagnostics, files);
        if (parsed is not null && !diagnostics.Any(d => d.Severity == Severity.Error))
            CheckShowRoundTrip(parsed.Definition, files);

        var first = set.Diagnostics.FirstOrDefault(d => d.Severity == Severity.Error);
        string allocated = $"{AllocationBound.LastMeasured} bytes allocated for {input.Length}";
        return first is null
            ? $"valid {files.Kind.ToString().ToLowerInvariant()} ({set.Diagnostics.Count} warnings; {allocated})"
            : $"invalid ({set.Diagnostics.Count} diagnostics; {allocated}): {first}";
    }

    /// <summary>The bounded part, on this thread: read every file (main, then drop-ins) and parse them into one unit.</summary>
    private static ParsedUnit? ReadAndParse(UnitFileInput files, List<Diagnostic> diagnostics)
    {
        var documents = new List<TomlDocument>();
        foreach (var path in files.All)
        {
            var doc = UnitFileReader.Read(path, files.Name, diagnostics);
            if (doc is null) return null;
            documents.Add(doc);
        }
        return UnitParser.Parse(files.Name, files.Kind, documents, diagnostics);
    }

    /// <summary>
    /// <c>supervisor show</c> promises "TOML that parses back to the same unit": print it, parse
    /// the print, print again; both prints must agree (after the first line, which names the sources).
    /// </summary>
    private static void CheckShowRoundTrip(UnitDefinition unit, UnitFileInput files)
    {
        string shown;
        try
        {
            shown = UnitFormatter.ToToml(unit);
            _ = UnitFormatter.ToJson(unit);
        }
        catch (Exception e)
        {
            throw new FuzzFindingException($"show failed on a valid unit: {e.GetType().Name}: {e.Message}", e);
        }
        var again = new List<Diagnostic>();
        var doc = UnitFileReader.Parse(Encoding.UTF8.GetBytes(shown), files.UnitFile, files.Name, again);
        var reparsed = doc is null ? null : UnitParser.Parse(files.Name, files.Kind, [doc], again);
        var error = again.FirstOrDefault(d => d.Severity == Severity.Error);
        if (reparsed is null || error is not null)
            throw new FuzzFindingException($"show printed a valid unit as TOML that does not parse back: {error}\n--- shown ---\n{shown}");
        string reshown = UnitFormatter.ToToml(reparsed.Definition);
        if (WithoutFirstLine(reshown) != WithoutFirstLine(shown))
            throw new FuzzFindingException($"show → parse → show changed the unit\n--- first ---\n{shown}\n--- second ---\n{reshown}");
    }

    private static string WithoutFirstLine(string text) => text[(text.IndexOf('\n') + 1)..];

    /// <summary>
    /// The first input of a process pays for static tables (keys, system calls, capabilities,
    /// the "did you mean" machinery); they are not the input's allocation, so they are paid here,
    /// outside the bound, by one unit that touches every table.
    /// </summary>
    private void WarmUp()
    {
        if (_warm) return;
        _warm = true;
        var files = UnitFileInput.Write(Encoding.UTF8.GetBytes(WarmUpUnit), _directory);
        ReadAndParse(files, new List<Diagnostic>());
        var set = UnitLoader.Load([files.UnitFile], new LoadOptions { RequireRootOwnership = false });
        foreach (var d in set.Diagnostics)
        {
            _ = d.ToString();
            using var w = new Utf8JsonWriter(Stream.Null);
            UnitFormatter.WriteJson(w, d);
        }
        if (set.Units.TryGetValue(files.Name, out var unit)) _ = UnitFormatter.ToToml(unit.Definition);
    }

    private const string WarmUpUnit = """
        [Unit]
        Description = "warm-up"
        After = ["missing"]
        [Service]
        ExecStart = ["/bin/true"]
        RestartSec = "1min 30s"
        KillSignal = "SIGINT"
        SuccessExitStatus = [75, "SIGUSR1"]
        Environment = { A = "1" }
        LimitNOFILE = "1024:4096"
        [Resources]
        MemoryMax = "1.5G"
        CPUQuota = "50%"
        AllowedCPUs = "0-1"
        [Sandbox]
        Namespaces = ["uts"]
        Hostname = "h"
        CapabilityBoundingSet = ["~CAP_SYS_ADMIN"]
        SystemCallFilter = ["@system-service", "~@privileged"]
        SystemCallErrorNumber = "EPERM"
        MemoryMaxx = 1
        """;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Already gone (run.sh removes the whole scratch directory too).
        }
    }
}
