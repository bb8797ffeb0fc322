using System.Globalization;

namespace Supervisor.Linux;

/// <summary>Linux signal names and numbers (x86_64, arm64 and most architectures share these).</summary>
public static class Signals
{
    private static readonly string[] Names =
    [
        "", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL",
        "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT",
        "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF",
        "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
    ];

    public static IEnumerable<string> AllNames => Names.Skip(1);

    /// <summary>SIGTERM, TERM or sigterm; numbers are not accepted, they differ between architectures.</summary>
    public static bool TryParse(string text, out int number)
    {
        var s = text.Trim().ToUpperInvariant();
        if (!s.StartsWith("SIG", StringComparison.Ordinal)) s = "SIG" + s;
        number = Array.IndexOf(Names, s);
        return number > 0;
    }

    public static string Name(int number) =>
        number > 0 && number < Names.Length ? Names[number] : "SIG" + number.ToString(CultureInfo.InvariantCulture);
}
