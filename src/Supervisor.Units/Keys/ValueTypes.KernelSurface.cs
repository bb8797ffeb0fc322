using Supervisor.Units.Model;
using Supervisor.Units.Syntax;
using Supervisor.Units.Values;
using Ns = Supervisor.Units.Model.Namespaces;

namespace Supervisor.Units.Keys;

/// <summary>Value types of the kernel-surface keys, which take systemd's spellings as well as TOML's.</summary>
public static partial class ValueTypes
{
    private static readonly string[] TrueWords = ["yes", "true", "on", "y", "t", "1"];
    private static readonly string[] FalseWords = ["no", "false", "off", "n", "f", "0"];

    /// <summary>systemd's parse_boolean words: "yes"/"no", "on"/"off", "1"/"0" … in any case.</summary>
    internal static bool? SystemdBoolWord(string s)
    {
        var w = s.Trim().ToLowerInvariant();
        return TrueWords.Contains(w) ? true : FalseWords.Contains(w) ? false : null;
    }

    /// <summary>A boolean that also takes systemd's spellings ("yes", "no", "on", "off", "1", "0"); shown as true/false.</summary>
    public static readonly IValueType<bool> SystemdBool = new Simple<bool>("boolean",
        v => v switch
        {
            TomlBoolean b => b.Value,
            TomlString s when SystemdBoolWord(s.Value) is { } b => b,
            _ => throw Expected("true or false (or systemd's \"yes\"/\"no\")", v),
        },
        b => b);

    /// <summary>systemd's namespace type names for RestrictNamespaces, in systemd's order; "mount" is accepted for "mnt".</summary>
    private static readonly (string Name, Ns Flag)[] RestrictableNamespaces =
    [
        ("cgroup", Ns.Cgroup), ("ipc", Ns.Ipc), ("net", Ns.Net), ("mnt", Ns.Mount),
        ("pid", Ns.Pid), ("user", Ns.User), ("uts", Ns.Uts),
    ];

    public static readonly IValueType<NamespaceRestriction?> NamespaceRestriction = new Simple<NamespaceRestriction?>(
        "true | false | array of \"cgroup\" \"ipc\" \"net\" \"mnt\" \"pid\" \"user\" \"uts\" (\"~\" on the first: all but these)",
        ParseNamespaceRestriction,
        r => r!.Invert || r.Listed != Ns.None
            ? Plain.List(RestrictableNamespaces.Where(n => r.Listed.HasFlag(n.Flag)).Select((n, i) => (object)((i == 0 && r.Invert ? "~" : "") + n.Name)))
            : true);

    private static NamespaceRestriction? ParseNamespaceRestriction(TomlValue v)
    {
        const string what = "true, false, or an array of namespace types like [\"net\", \"ipc\"]";
        if (v is TomlBoolean b) return b.Value ? Model.NamespaceRestriction.Everything : null;
        if (v is TomlString s && SystemdBoolWord(s.Value) is { } word) return word ? Model.NamespaceRestriction.Everything : null;
        var (invert, words) = WordList(v, what);
        if (words.Count == 0)
        {
            if (invert) throw new UnitValueException("\"~\" needs the namespace types to deny after it, e.g. [\"~user\"]");
            return null; // systemd: an empty assignment resets to no restriction
        }
        var listed = Ns.None;
        foreach (var w in words)
        {
            var name = w == "mount" ? "mnt" : w;
            var found = RestrictableNamespaces.FirstOrDefault(n => n.Name == name);
            if (found.Name is null)
                throw new UnitValueException(
                    $"unknown namespace type \"{w}\"; expected one of {string.Join(", ", RestrictableNamespaces.Select(n => $"\"{n.Name}\""))}",
                    Suggest.Hint(w, RestrictableNamespaces.Select(n => n.Name)));
            listed |= found.Flag;
        }
        return new Model.NamespaceRestriction(invert, listed);
    }

    public static readonly IValueType<AddressFamilyRestriction?> AddressFamilyRestriction = new Simple<AddressFamilyRestriction?>(
        "\"none\" or array of address families (\"AF_UNIX\", \"AF_INET\", …; \"~\" on the first: all but these)",
        ParseAddressFamilies,
        r => r!.IsNone ? "none"
            : Plain.List(r.Families.Select((f, i) => (object)((i == 0 && r.Invert ? "~" : "") + AddressFamilies.Name(f)))));

    private static AddressFamilyRestriction? ParseAddressFamilies(TomlValue v)
    {
        const string what = "\"none\" or an array of address families like [\"AF_UNIX\", \"AF_INET\", \"AF_INET6\"]";
        var (invert, words) = WordList(v, what);
        if (words.Count == 0)
        {
            if (invert) throw new UnitValueException("\"~\" needs the address families to deny after it, e.g. [\"~AF_PACKET\"]");
            return null; // systemd: an empty assignment resets to every family
        }
        if (words.Contains("none"))
        {
            if (words.Count > 1 || invert)
                throw new UnitValueException("\"none\" denies every address family and stands alone; list families without it, or write just \"none\"");
            return Model.AddressFamilyRestriction.None;
        }
        var families = new List<int>();
        foreach (var w in words)
        {
            int af = AddressFamilies.Parse(w);
            if (!families.Contains(af)) families.Add(af);
        }
        return new Model.AddressFamilyRestriction(invert, new ValueList<int>(families));
    }

    /// <summary>
    /// A systemd list written as a TOML array (entries may hold several space-separated words) or
    /// as one string; a "~" before the first word inverts it.
    /// </summary>
    private static (bool Invert, List<string> Words) WordList(TomlValue v, string what)
    {
        IEnumerable<TomlValue> items = v switch
        {
            TomlArray => AsArray(v, what),
            TomlString => [v],
            _ => throw Expected(what, v),
        };
        var words = new List<string>();
        bool invert = false;
        foreach (var item in items)
        {
            foreach (var raw in AsString(item, what).Split(' ', '\t'))
            {
                var w = raw;
                if (w.Length == 0) continue;
                if (w.StartsWith('~'))
                {
                    if (words.Count > 0 || invert)
                        throw new UnitValueException($"\"~\" is only allowed on the first entry, got \"{w}\"");
                    invert = true;
                    w = w[1..];
                    if (w.Length == 0) continue;
                }
                words.Add(w);
            }
        }
        return (invert, words);
    }
}
