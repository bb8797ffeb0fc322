using System.Globalization;
using System.Text;
using Supervisor.Units.Model;
using Supervisor.Units.Syntax;
using Supervisor.Units.Values;
using V = Supervisor.Units.Keys.ValueTypes;
using static Supervisor.Units.Keys.ChangeEffect;

namespace Supervisor.Units.Keys;

public static partial class KeyTable
{
    /// <summary>
    /// [Service] keys of the per-unit directories (RuntimeDirectory …, their modes,
    /// RuntimeDirectoryPreserve) and the credentials (LoadCredential, SetCredential). All are
    /// carried out when a command starts, so a change takes a new process, as in systemd.
    /// </summary>
    private static IEnumerable<KeySpec> DirectoriesKeys()
    {
        var preserve = V.BoolOrEnum(RuntimeDirectoryPreserve.No, RuntimeDirectoryPreserve.Yes, ("restart", RuntimeDirectoryPreserve.Restart));
        return
        [
            S("RuntimeDirectory", Restart, DirectoryList.Instance, s => s.RuntimeDirectory, (s, v) => s with { RuntimeDirectory = v }, "[]",
                "directories below /run created (with their parents) before the first command, owned by User/Group, exported as $RUNTIME_DIRECTORY (colon-separated), " +
                "writable inside ProtectSystem=\"strict\" and ReadOnlyPaths; removed when the unit stops, per RuntimeDirectoryPreserve", MergeRule.List),
            S("StateDirectory", Restart, DirectoryList.Instance, s => s.StateDirectory, (s, v) => s with { StateDirectory = v }, "[]",
                "like RuntimeDirectory, below /var/lib, exported as $STATE_DIRECTORY, never removed; when its owner differs from the service's user the tree below is chowned " +
                "(with DynamicUser directly below /var/lib, not in systemd's /var/lib/private)", MergeRule.List),
            S("CacheDirectory", Restart, DirectoryList.Instance, s => s.CacheDirectory, (s, v) => s with { CacheDirectory = v }, "[]",
                "like StateDirectory, below /var/cache, exported as $CACHE_DIRECTORY", MergeRule.List),
            S("LogsDirectory", Restart, DirectoryList.Instance, s => s.LogsDirectory, (s, v) => s with { LogsDirectory = v }, "[]",
                "like StateDirectory, below /var/log, exported as $LOGS_DIRECTORY", MergeRule.List),
            S("ConfigurationDirectory", Restart, DirectoryList.Instance, s => s.ConfigurationDirectory, (s, v) => s with { ConfigurationDirectory = v }, "[]",
                "directories below /etc created before the first command, owned by root and read-only inside the sandbox, exported as $CONFIGURATION_DIRECTORY", MergeRule.List),
            S("RuntimeDirectoryMode", Restart, DirectoryMode.Instance, s => s.RuntimeDirectoryMode, (s, v) => s with { RuntimeDirectoryMode = v }, "\"0755\"",
                "the mode the RuntimeDirectory entries get, in octal (applied at every start)"),
            S("StateDirectoryMode", Restart, DirectoryMode.Instance, s => s.StateDirectoryMode, (s, v) => s with { StateDirectoryMode = v }, "\"0755\"",
                "the mode of the StateDirectory entries"),
            S("CacheDirectoryMode", Restart, DirectoryMode.Instance, s => s.CacheDirectoryMode, (s, v) => s with { CacheDirectoryMode = v }, "\"0755\"",
                "the mode of the CacheDirectory entries"),
            S("LogsDirectoryMode", Restart, DirectoryMode.Instance, s => s.LogsDirectoryMode, (s, v) => s with { LogsDirectoryMode = v }, "\"0755\"",
                "the mode of the LogsDirectory entries"),
            S("ConfigurationDirectoryMode", Restart, DirectoryMode.Instance, s => s.ConfigurationDirectoryMode, (s, v) => s with { ConfigurationDirectoryMode = v }, "\"0755\"",
                "the mode of the ConfigurationDirectory entries"),
            S("RuntimeDirectoryPreserve", NextUse, preserve, s => s.RuntimeDirectoryPreserve, (s, v) => s with { RuntimeDirectoryPreserve = v }, "false",
                "false: RuntimeDirectory entries are removed whenever the service stops, also before a restart; \"restart\": kept across automatic and manual restarts, " +
                "removed on a real stop; true: never removed"),
            S("LoadCredential", Restart, CredentialSources.Instance, s => s.LoadCredential, (s, v) => s with { LoadCredential = v }, "[]",
                "\"ID:PATH\": the file PATH (absolute; a directory gives every file below it as ID_NAME) read by the supervisor at every start and written to " +
                "$CREDENTIALS_DIRECTORY/ID (/run/credentials/UNIT, a ramfs mode 0500 with files 0400, owned by the service's user, readable inside the sandbox, removed at stop); " +
                "a missing file fails the start, unless SetCredential gives the same ID. \"ID\" or \"ID:NAME\" (not a path): the credential NAME (default ID) from the stores, " +
                "first hit wins: the supervisor's own $CREDENTIALS_DIRECTORY, /etc/credstore, /run/credstore, /usr/lib/credstore; not found is not an error " +
                "(the service finds no file), as in systemd", MergeRule.List),
            S("SetCredential", Restart, CredentialValues.Instance, s => s.SetCredential, (s, v) => s with { SetCredential = v }, "[]",
                "\"ID:VALUE\": a credential given in the unit, with C escapes (\\n, \\x00 …) as in systemd; a LoadCredential of the same ID wins", MergeRule.List),
        ];
    }

    /// <summary>
    /// A managed directory entry as systemd's config_parse_exec_directories reads it: relative,
    /// no "..", "a/b" allowed; "." and empty components are dropped (systemd's path_simplify).
    /// systemd's "SOURCE:LINK" symlink form is refused with a clear message.
    /// </summary>
    private sealed class DirectoryList : IValueType<ValueList<string>>
    {
        public static readonly DirectoryList Instance = new();

        public string Describe => "array of relative paths (\"name\" or \"a/b\")";

        public ValueList<string> Parse(TomlValue value) =>
            new(V.AsArray(value, "an array of relative paths").Select(Entry));

        private static string Entry(TomlValue v)
        {
            var s = V.AsString(v, "a relative path in a string, like \"redis\"");
            if (s.StartsWith('/'))
                throw new UnitValueException($"\"{s}\" is an absolute path; the entry is relative to the directory's root (/run, /var/lib, /var/cache, /var/log or /etc), e.g. \"{s.TrimStart('/')}\"");
            if (s.Contains(':', StringComparison.Ordinal))
                throw new UnitValueException($"\"{s}\": systemd's \"SOURCE:LINK\" form (a symlink to the directory) is not supported; create the link with an ExecStartPre");
            var parts = s.Split('/').Where(p => p.Length > 0 && p != ".").ToList();
            if (parts.Contains(".."))
                throw new UnitValueException($"\"{s}\" contains \"..\"; an entry must stay below its root");
            if (parts.Count == 0)
                throw new UnitValueException($"\"{s}\" names no directory");
            var path = string.Join('/', parts);
            if (Encoding.UTF8.GetByteCount(path) > Limits.MaxPathBytes - 16)
                throw new UnitValueException($"\"{s}\" is longer than a path may be ({Limits.MaxPathBytes} bytes)");
            return path;
        }

        public object ToPlain(ValueList<string> value) => Plain.List(value);
    }

    /// <summary>A directory mode in octal, as systemd's parse_mode: "0755", "2755", at most 07777; a TOML octal integer (0o755) is accepted too.</summary>
    private sealed class DirectoryMode : IValueType<uint>
    {
        public static readonly DirectoryMode Instance = new();

        public string Describe => "octal mode string (e.g. \"0750\")";

        public uint Parse(TomlValue value)
        {
            if (value is TomlInteger i)
                return i.Value is >= 0 and <= 0xFFF ? (uint)i.Value : throw new UnitValueException($"{i.Value} is not a mode from 0 to 0o7777");
            var s = V.AsString(value, "an octal mode in a string, like \"0755\"");
            if (s.Length is 0 or > 6 || !s.All(c => c is >= '0' and <= '7'))
                throw V.Expected("an octal mode in a string, like \"0755\" (digits 0–7)", value);
            var mode = Convert.ToUInt32(s, 8);
            if (mode > 0xFFF)
                throw new UnitValueException($"\"{s}\" sets bits above 07777; a mode holds only the permission, setuid, setgid and sticky bits");
            return mode;
        }

        public object ToPlain(uint value) => "0" + Convert.ToString(value, 8).PadLeft(3, '0');
    }

    /// <summary>"ID:..." split, with systemd's credential_name_valid() on the ID (a file name of at most 255 bytes).</summary>
    private static (string Id, string Value) SplitCredential(string s, string key)
    {
        int colon = s.IndexOf(':', StringComparison.Ordinal);
        var id = colon < 0 ? s : s[..colon];
        if (id.Length == 0 || id is "." or ".." || id.Contains('/', StringComparison.Ordinal) || id.Contains('\0', StringComparison.Ordinal) ||
            Encoding.UTF8.GetByteCount(id) > 255)
            throw new UnitValueException($"\"{s}\": the credential ID \"{id}\" must be a file name (not empty, no \"/\", not \".\" or \"..\", at most 255 bytes)");
        if (colon < 0)
        {
            if (key == "LoadCredential") return (id, id);
            throw new UnitValueException($"\"{s}\" has no value; write \"{s}:VALUE\"");
        }
        return (id, s[(colon + 1)..]);
    }

    private sealed class CredentialSources : IValueType<ValueList<CredentialSource>>
    {
        public static readonly CredentialSources Instance = new();

        public string Describe => "array of \"ID:PATH\" strings (PATH absolute) or \"ID\" / \"ID:NAME\" (from the credential stores)";

        public ValueList<CredentialSource> Parse(TomlValue value) =>
            new(V.AsArray(value, "an array of \"ID:PATH\" strings").Select(v =>
            {
                var s = V.AsString(v, "\"ID:PATH\" in a string");
                var (id, path) = SplitCredential(s, "LoadCredential");
                if (!path.StartsWith('/'))
                {
                    // systemd's credential_name_valid(): a credential name in the stores, not a relative path.
                    if (path.Length == 0 || path is "." or ".." || path.Contains('/', StringComparison.Ordinal) || Encoding.UTF8.GetByteCount(path) > 255)
                        throw new UnitValueException($"\"{s}\": \"{path}\" is neither an absolute path nor a credential name to look up in the credential stores " +
                            "(a file name: not empty, no \"/\", not \".\" or \"..\"); give the absolute path of the file");
                    return new CredentialSource(id, path);
                }
                if (path.Split('/').Contains(".."))
                    throw new UnitValueException($"\"{s}\": the path contains \"..\"; write the path it means");
                return new CredentialSource(id, path.Length > 1 ? path.TrimEnd('/') : path);
            }));

        public object ToPlain(ValueList<CredentialSource> value) => Plain.List(value.Select(c => (object)c.ToString()));
    }

    private sealed class CredentialValues : IValueType<ValueList<CredentialValue>>
    {
        public static readonly CredentialValues Instance = new();

        public string Describe => "array of \"ID:VALUE\" strings (C escapes in VALUE)";

        public ValueList<CredentialValue> Parse(TomlValue value) =>
            new(V.AsArray(value, "an array of \"ID:VALUE\" strings").Select(v =>
            {
                var s = V.AsString(v, "\"ID:VALUE\" in a string");
                var (id, text) = SplitCredential(s, "SetCredential");
                byte[] data;
                try
                {
                    data = CEscapes.Unescape(text);
                }
                catch (FormatException e)
                {
                    throw new UnitValueException($"credential \"{id}\": {e.Message}");
                }
                if (data.Length > Limits.MaxCredentialBytes)
                    throw new UnitValueException($"credential \"{id}\" is {data.Length.ToString(CultureInfo.InvariantCulture)} bytes; a unit's credentials are at most {Limits.MaxCredentialBytes} bytes together");
                return new CredentialValue(id, text);
            }));

        public object ToPlain(ValueList<CredentialValue> value) => Plain.List(value.Select(c => (object)c.ToString()));
    }
}
