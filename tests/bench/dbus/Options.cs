using System.Globalization;

namespace Supervisor.DBus.Bench;

internal sealed record Options
{
    /// <summary>Call pairs each client makes per measured run.</summary>
    public int Calls { get; init; } = 1000;
    public int Rounds { get; init; } = 5;
    public int[] Clients { get; init; } = [1, 8, 64];
    /// <summary>Sleep units the bench's own daemon runs; client i asks about unit i mod this.</summary>
    public int Units { get; init; } = 4;
    /// <summary>supervisor.dll to start; null means the repository's Release build.</summary>
    public string? Supervisor { get; init; }
    /// <summary>An already running daemon's private socket, instead of starting one.</summary>
    public string? Address { get; init; }
    /// <summary>With <see cref="Address"/>: the units to ask about (they must be active).</summary>
    public string[] UnitNames { get; init; } = [];
    public string DBusDaemon { get; init; } = "dbus-daemon";

    public const string Usage = """
        usage: dotnet run -c Release --project tests/bench/dbus -- [options]
          --calls N            call pairs per client per run (default 1000)
          --rounds N           measured rounds (default 5; an unrecorded warm-up round of the same size comes first)
          --clients A,B,...    concurrent clients, one connection each (default 1,8,64)
          --units N            sleep units in the bench's own daemon (default 4)
          --supervisor PATH    supervisor.dll to start (default: src/Supervisor.Cli/bin/Release/net10.0/supervisor.dll)
          --address ADDR       use a running daemon's socket (unix:path=/run/supervisor/private) instead
          --unit NAME[,NAME]   with --address: active units to ask about
          --dbus-daemon PATH   the dbus-daemon to compare with (default: dbus-daemon on PATH)
        """;

    public static Options Parse(string[] args)
    {
        var o = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"option '{args[i]}' needs a value");
            o = args[i] switch
            {
                "--calls" => o with { Calls = Positive(args[i], Value()) },
                "--rounds" => o with { Rounds = Positive(args[i], Value()) },
                "--clients" => o with { Clients = Value().Split(',').Select(v => Positive("--clients", v)).ToArray() },
                "--units" => o with { Units = Positive(args[i], Value()) },
                "--supervisor" => o with { Supervisor = Value() },
                "--address" => o with { Address = Value() },
                "--unit" => o with { UnitNames = Value().Split(',', StringSplitOptions.RemoveEmptyEntries) },
                "--dbus-daemon" => o with { DBusDaemon = Value() },
                "-h" or "--help" => throw new HelpRequested(),
                _ => throw new ArgumentException($"unknown option '{args[i]}'"),
            };
        }
        if (o.Address != null && o.UnitNames.Length == 0)
        {
            throw new ArgumentException("--address needs --unit NAME (an active unit of that daemon)");
        }
        return o;
    }

    private static int Positive(string option, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0 ? n
            : throw new ArgumentException($"option '{option}': expected a positive integer, got '{value}'");
}

internal sealed class HelpRequested : Exception;
