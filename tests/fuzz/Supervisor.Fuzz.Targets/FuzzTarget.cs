namespace Supervisor.Fuzz;

/// <summary>
/// One reader under test. <see cref="Run"/> feeds it one input and checks every contract the
/// reader documents; a broken contract is a <see cref="FuzzFindingException"/>. Under AFL that
/// is a crash (the input lands in crashes/), in the corpus replay test a failed test.
/// </summary>
public interface IFuzzTarget : IDisposable
{
    /// <summary>The name used by run.sh, the harness and the corpus folder (tests/fuzz/corpus/NAME).</summary>
    string Name { get; }

    /// <summary>Runs one input; returns one line saying what the reader made of it.</summary>
    string Run(byte[] input);
}

/// <summary>
/// An input made a reader break its contract: an exception it does not document, more memory
/// than its bound, a diagnostic a user could not read, a result that does not survive a round trip.
/// </summary>
public sealed class FuzzFindingException : Exception
{
    public FuzzFindingException(string message) : base(message) { }

    public FuzzFindingException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>The targets by name, each created only when asked for (the SASL one starts a server).</summary>
public static class FuzzTargets
{
    public const string UnitFile = "unitfile";
    public const string DBusMessage = "dbus";
    public const string Sasl = "sasl";

    public static readonly IReadOnlyList<string> Names = [UnitFile, DBusMessage, Sasl];

    /// <summary>
    /// Creates a target. <paramref name="scratchDirectory"/> holds the files and sockets it needs
    /// (a unit file and its drop-ins, the server socket); it is created if missing.
    /// </summary>
    public static IFuzzTarget Create(string name, string scratchDirectory)
    {
        Directory.CreateDirectory(scratchDirectory);
        return name switch
        {
            UnitFile => new UnitFileTarget(scratchDirectory),
            DBusMessage => new DBusMessageTarget(),
            Sasl => new SaslTarget(scratchDirectory),
            _ => throw new ArgumentException($"unknown fuzz target '{name}'; the targets are {string.Join(", ", Names)}", nameof(name)),
        };
    }
}
