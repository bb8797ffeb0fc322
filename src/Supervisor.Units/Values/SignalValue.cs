using Supervisor.Linux;

namespace Supervisor.Units.Values;

/// <summary>A signal name in a unit file (KillSignal, SuccessExitStatus …), by the Linux layer's table.</summary>
public static class SignalValue
{
    public const string Expected = "a signal name like \"SIGTERM\"";

    /// <summary>Parses SIGTERM, TERM or sigterm; anything else is a value error with a suggestion.</summary>
    public static int Parse(string text)
    {
        if (Signals.TryParse(text, out var n)) return n;
        var s = text.Trim().ToUpperInvariant();
        throw new UnitValueException($"expected {Expected}, got \"{text}\"", Suggest.Hint(s.StartsWith("SIG", StringComparison.Ordinal) ? s : "SIG" + s, Signals.AllNames));
    }
}
