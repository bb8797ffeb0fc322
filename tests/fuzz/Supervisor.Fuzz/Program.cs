using SharpFuzz;
using Supervisor.Fuzz;

// The AFL harness for the targets in Supervisor.Fuzz.Targets. tests/fuzz/run.sh builds it,
// instruments the readers' assemblies and runs `fuzz TARGET` under afl-fuzz; the other modes
// are for people and for run.sh's reports.
const string Usage = """
    usage: Supervisor.Fuzz fuzz TARGET             run under afl-fuzz (one input a run, on standard input)
           Supervisor.Fuzz replay TARGET PATH...   run each file (every file of a directory) once; exit 1 on a finding
           Supervisor.Fuzz seeds DIR               write the generated D-Bus and SASL seeds to DIR/dbus and DIR/sasl
           Supervisor.Fuzz dict TARGET             print TARGET's AFL dictionary
    targets: unitfile, dbus, sasl
    FUZZ_SCRATCH names the directory for the files and sockets a target needs (default: under /tmp)
    """;

if (args.Length < 2)
{
    Console.Error.WriteLine(Usage);
    return 2;
}
string scratch = Path.Combine(Environment.GetEnvironmentVariable("FUZZ_SCRATCH") is { Length: > 0 } s ? s : Path.Combine(Path.GetTempPath(), "supervisor-fuzz"),
    Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
try
{
    switch (args[0])
    {
        case "fuzz" when args.Length == 2:
            Fuzz(args[1], scratch);
            return 0;
        case "replay" when args.Length >= 3:
            return Replay(args[1], args[2..], scratch);
        case "seeds" when args.Length == 2:
            Instrumented(() => WriteSeeds(args[1]));
            return 0;
        case "dict" when args.Length == 2:
            Instrumented(() => Console.Out.Write(Dictionaries.For(args[1])));
            return 0;
        default:
            Console.Error.WriteLine(Usage);
            return 2;
    }
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"Supervisor.Fuzz: {e.Message}");
    return 2;
}

// Out of process: SharpFuzz runs the target in a child it restarts after a stack overflow or
// an AFL timeout kill, both of which end a .NET process. The target is made on the first input,
// inside the child (a server process that never runs inputs never starts the SASL server).
static void Fuzz(string target, string scratch)
{
    if (!FuzzTargets.Names.Contains(target)) throw new ArgumentException($"unknown fuzz target '{target}'");
    IFuzzTarget? instance = null;
    Fuzzer.OutOfProcess.Run(stream =>
    {
        instance ??= FuzzTargets.Create(target, scratch);
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        instance.Run(memory.ToArray());
    });
}

// Fuzzer.Run outside AFL runs the action once with a scratch coverage map, which the
// instrumented assemblies need to run at all (without one, their first branch writes
// through a null pointer and the process dies with an AccessViolationException).
static void Instrumented(Action action) => Fuzzer.Run(_ => action());

static int Replay(string target, string[] paths, string scratch)
{
    var files = paths.SelectMany(p => Directory.Exists(p) ? Directory.EnumerateFiles(p).Order(StringComparer.Ordinal) : (IEnumerable<string>)[p]).ToList();
    int findings = 0;
    Instrumented(() =>
    {
        using var instance = FuzzTargets.Create(target, scratch);
        foreach (var file in files)
        {
            try
            {
                Console.Out.WriteLine($"{file}: {instance.Run(File.ReadAllBytes(file))}");
            }
            catch (Exception e)
            {
                findings++;
                Console.Out.WriteLine($"{file}: FINDING: {e.Message}");
                Console.Error.WriteLine($"{file}:\n{e}\n");
            }
        }
    });
    Console.Out.WriteLine($"{files.Count} inputs replayed, {findings} findings");
    try
    {
        Directory.Delete(scratch, recursive: true);
    }
    catch (IOException)
    {
        // Nothing left to clean.
    }
    return findings == 0 ? 0 : 1;
}

static void WriteSeeds(string directory)
{
    foreach (var (kind, seeds) in new[] { ("dbus", DBusSeeds.All()), ("sasl", SaslSeeds.All()) })
    {
        var dir = Path.Combine(directory, kind);
        Directory.CreateDirectory(dir);
        int n = 0;
        foreach (var (name, bytes) in seeds)
        {
            File.WriteAllBytes(Path.Combine(dir, name + ".bin"), bytes);
            n++;
        }
        Console.Out.WriteLine($"{n} seeds written to {dir}");
    }
}
