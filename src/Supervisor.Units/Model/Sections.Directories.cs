using System.Text;
using Supervisor.Units.Values;

namespace Supervisor.Units.Model;

/// <summary>RuntimeDirectoryPreserve=: when the RuntimeDirectory entries are removed.</summary>
public enum RuntimeDirectoryPreserve
{
    /// <summary>Removed whenever the service stops, also before an automatic or manual restart (systemd's default).</summary>
    No,
    /// <summary>Never removed by the supervisor.</summary>
    Yes,
    /// <summary>Kept across an automatic or manual restart, removed when the unit really stops.</summary>
    Restart,
}

/// <summary>The five kinds of per-unit directory systemd manages (its ExecDirectoryType).</summary>
public enum ExecDirectoryKind { Runtime, State, Cache, Logs, Configuration }

/// <summary>
/// One kind of managed directory: its key, the host directory its entries live below, the
/// variable that carries their absolute paths to every command, and whether the service's
/// user owns it (all but ConfigurationDirectory, which stays root's and read-only, as in systemd).
/// </summary>
public sealed record ExecDirectoryType(ExecDirectoryKind Kind, string Key, string Root, string EnvironmentVariable, bool OwnedByService)
{
    public string ModeKey => Key + "Mode";

    /// <summary>systemd.exec(5)'s table, for system services.</summary>
    public static readonly IReadOnlyList<ExecDirectoryType> All =
    [
        new(ExecDirectoryKind.Runtime, "RuntimeDirectory", "/run", "RUNTIME_DIRECTORY", true),
        new(ExecDirectoryKind.State, "StateDirectory", "/var/lib", "STATE_DIRECTORY", true),
        new(ExecDirectoryKind.Cache, "CacheDirectory", "/var/cache", "CACHE_DIRECTORY", true),
        new(ExecDirectoryKind.Logs, "LogsDirectory", "/var/log", "LOGS_DIRECTORY", true),
        new(ExecDirectoryKind.Configuration, "ConfigurationDirectory", "/etc", "CONFIGURATION_DIRECTORY", false),
    ];

    /// <summary>The absolute path of one entry ("redis" → "/run/redis").</summary>
    public string PathOf(string entry) => Root + "/" + entry;
}

/// <summary>
/// LoadCredential=ID:PATH: the file (or, for a directory, every file below it) copied into the
/// credentials directory. A <see cref="Path"/> that is not absolute is a credential name looked up
/// in the credential stores (<see cref="SearchPath"/>); LoadCredential=ID alone means ID:ID.
/// </summary>
public sealed record CredentialSource(string Id, string Path)
{
    /// <summary>Whether <see cref="Path"/> names a credential in the stores rather than a file.</summary>
    public bool Searched => !Path.StartsWith('/');

    /// <summary>
    /// Where a searched credential is looked for, first hit wins (systemd 252's trusted search
    /// path): the credentials the supervisor itself was given (its own $CREDENTIALS_DIRECTORY, set
    /// when it runs as a systemd service with LoadCredential), then /etc/credstore, /run/credstore
    /// and /usr/lib/credstore.
    /// </summary>
    public static IReadOnlyList<string> SearchPath(string? ownCredentialsDirectory) =>
        [.. ownCredentialsDirectory is { Length: > 0 } own && own.StartsWith('/') ? [own] : Array.Empty<string>(),
            "/etc/credstore", "/run/credstore", "/usr/lib/credstore"];

    public override string ToString() => Searched && Path == Id ? Id : Id + ":" + Path;
}

/// <summary>
/// SetCredential=ID:VALUE. <see cref="Value"/> is the text as written, with systemd's C-style
/// escapes ("\n", "\x00", …) still in it, so the unit compares and prints as written; <see cref="Data"/>
/// is what the service reads.
/// </summary>
public sealed record CredentialValue(string Id, string Value)
{
    public byte[] Data => CEscapes.Unescape(Value);

    public override string ToString() => Id + ":" + Value;
}

/// <summary>[Service] keys of the per-unit directories and the credentials (systemd.exec(5) "RUNTIME DIRECTORY", "CREDENTIALS").</summary>
public sealed partial record ServiceSection
{
    /// <summary>The mode a managed directory gets when its *Mode key is not set (0755).</summary>
    public const uint DefaultDirectoryMode = 0x1ED;

    public ValueList<string> RuntimeDirectory { get; init; } = ValueList<string>.Empty;
    public ValueList<string> StateDirectory { get; init; } = ValueList<string>.Empty;
    public ValueList<string> CacheDirectory { get; init; } = ValueList<string>.Empty;
    public ValueList<string> LogsDirectory { get; init; } = ValueList<string>.Empty;
    public ValueList<string> ConfigurationDirectory { get; init; } = ValueList<string>.Empty;
    public uint RuntimeDirectoryMode { get; init; } = DefaultDirectoryMode;
    public uint StateDirectoryMode { get; init; } = DefaultDirectoryMode;
    public uint CacheDirectoryMode { get; init; } = DefaultDirectoryMode;
    public uint LogsDirectoryMode { get; init; } = DefaultDirectoryMode;
    public uint ConfigurationDirectoryMode { get; init; } = DefaultDirectoryMode;
    public RuntimeDirectoryPreserve RuntimeDirectoryPreserve { get; init; }

    public ValueList<CredentialSource> LoadCredential { get; init; } = ValueList<CredentialSource>.Empty;
    public ValueList<CredentialValue> SetCredential { get; init; } = ValueList<CredentialValue>.Empty;

    /// <summary>The entries of one kind of directory.</summary>
    public ValueList<string> DirectoriesOf(ExecDirectoryKind kind) => kind switch
    {
        ExecDirectoryKind.Runtime => RuntimeDirectory,
        ExecDirectoryKind.State => StateDirectory,
        ExecDirectoryKind.Cache => CacheDirectory,
        ExecDirectoryKind.Logs => LogsDirectory,
        _ => ConfigurationDirectory,
    };

    /// <summary>The mode of one kind of directory.</summary>
    public uint ModeOf(ExecDirectoryKind kind) => kind switch
    {
        ExecDirectoryKind.Runtime => RuntimeDirectoryMode,
        ExecDirectoryKind.State => StateDirectoryMode,
        ExecDirectoryKind.Cache => CacheDirectoryMode,
        ExecDirectoryKind.Logs => LogsDirectoryMode,
        _ => ConfigurationDirectoryMode,
    };

    /// <summary>Every managed directory of the unit, as (type, absolute path, mode).</summary>
    public IEnumerable<(ExecDirectoryType Type, string Path, uint Mode)> ManagedDirectories() =>
        ExecDirectoryType.All.SelectMany(t => DirectoriesOf(t.Kind).Select(d => (t, t.PathOf(d), ModeOf(t.Kind))));

    public bool HasCredentials => LoadCredential.Count > 0 || SetCredential.Count > 0;

    /// <summary>Where the unit's credentials are for its processes: /run/credentials/UNIT, as systemd's system services.</summary>
    public static string CredentialsDirectoryOf(string unit) => "/run/credentials/" + unit;
}

/// <summary>systemd's cunescape(): the C escapes of SetCredential's value.</summary>
public static class CEscapes
{
    /// <summary>The bytes VALUE stands for; throws <see cref="FormatException"/> naming the bad escape.</summary>
    public static byte[] Unescape(string value)
    {
        var bytes = new List<byte>(value.Length);
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (c != '\\')
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(char.IsSurrogate(c) && i + 1 < value.Length ? value.Substring(i++, 2) : c.ToString()));
                continue;
            }
            if (++i >= value.Length) throw new FormatException("a lone \"\\\" at the end");
            char e = value[i];
            switch (e)
            {
                case 'a': bytes.Add(7); break;
                case 'b': bytes.Add(8); break;
                case 'f': bytes.Add(12); break;
                case 'n': bytes.Add(10); break;
                case 'r': bytes.Add(13); break;
                case 't': bytes.Add(9); break;
                case 'v': bytes.Add(11); break;
                case 's': bytes.Add(32); break;
                case '\\' or '"' or '\'': bytes.Add((byte)e); break;
                case 'x':
                    bytes.Add((byte)Digits(value, ref i, 2, 16, "\\x takes two hex digits"));
                    break;
                case >= '0' and <= '7':
                    i--;
                    int v = Digits(value, ref i, 3, 8, "an octal escape takes three digits 0–7");
                    if (v > 255) throw new FormatException($"the octal escape \"\\{value.Substring(i - 2, 3)}\" is above \\377");
                    bytes.Add((byte)v);
                    break;
                case 'u' or 'U':
                    int cp = e == 'u' ? Digits(value, ref i, 4, 16, "\\u takes four hex digits") : Digits(value, ref i, 8, 16, "\\U takes eight hex digits");
                    if (cp > 0x10FFFF || cp is >= 0xD800 and <= 0xDFFF) throw new FormatException($"\\{e}{cp:x} is not a Unicode code point");
                    bytes.AddRange(Encoding.UTF8.GetBytes(char.ConvertFromUtf32(cp)));
                    break;
                default:
                    throw new FormatException($"unknown escape \"\\{e}\"");
            }
        }
        return [.. bytes];
    }

    private static int Digits(string s, ref int i, int count, int radix, string what)
    {
        int v = 0;
        for (int k = 0; k < count; k++)
        {
            if (++i >= s.Length) throw new FormatException(what);
            int d = HexValue(s[i]);
            if (d < 0 || d >= radix) throw new FormatException(what);
            v = v * radix + d;
        }
        return v;
    }

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };
}
