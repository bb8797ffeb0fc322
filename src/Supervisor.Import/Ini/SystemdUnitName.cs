namespace Supervisor.Import.Ini;

/// <summary>
/// A systemd unit name: <c>prefix[@[instance]].type</c> (systemd.unit(5)). <c>getty@.service</c> is
/// a template, <c>getty@tty1.service</c> an instance of it.
/// </summary>
public sealed record SystemdUnitName(string Full, string Prefix, string? Instance, string Type)
{
    /// <summary>Every unit type systemd 252 has.</summary>
    public static readonly IReadOnlyList<string> Types =
        ["service", "socket", "target", "device", "mount", "automount", "swap", "timer", "path", "slice", "scope"];

    private const int MaxLength = 255;

    public bool IsTemplate => Instance == "";
    public bool IsInstance => Instance is { Length: > 0 };

    /// <summary>foo@.service for foo@bar.service.</summary>
    public string Template => $"{Prefix}@.{Type}";

    public static SystemdUnitName? Parse(string name)
    {
        if (name.Length == 0 || name.Length > MaxLength) return null;
        int dot = name.LastIndexOf('.');
        if (dot <= 0) return null;
        var type = name[(dot + 1)..];
        if (!Types.Contains(type)) return null;
        var stem = name[..dot];
        if (!stem.All(c => char.IsAsciiLetterOrDigit(c) || c is ':' or '-' or '_' or '.' or '\\' or '@')) return null;
        int at = stem.IndexOf('@');
        if (at < 0) return new SystemdUnitName(name, stem, null, type);
        if (at == 0 || stem.IndexOf('@', at + 1) >= 0) return null;
        return new SystemdUnitName(name, stem[..at], stem[(at + 1)..], type);
    }

    /// <summary>
    /// The names whose "NAME.d" directories hold drop-ins for this unit, most specific first, as
    /// systemd 252 searches them (unit_file_find_dirs): the name itself, its template, then the
    /// unit's dash-prefixes (foo-bar-baz.service → foo-bar-.service, foo-.service); the type-wide
    /// "service.d" comes last, added by the caller.
    /// </summary>
    public IEnumerable<string> DropInNames()
    {
        yield return Full;
        if (IsInstance && Parse(Template) is { } template)
            foreach (var n in template.DropInNames()) yield return n;
        if (DashPrefix() is { } shorter)
            foreach (var n in shorter.DropInNames()) yield return n;
    }

    /// <summary>foo-bar-baz.service → foo-bar-.service; foo-bar-.service → foo-.service; none without a dash.</summary>
    private SystemdUnitName? DashPrefix()
    {
        var prefix = Prefix;
        bool chopped = false;
        while (true)
        {
            int dash = prefix.LastIndexOf('-');
            if (dash <= 0) return null;
            if (dash + 1 < prefix.Length || chopped)
            {
                prefix = prefix[..(dash + 1)];
                break;
            }
            // A trailing dash: chop it and look for the one before, but only once.
            prefix = prefix[..dash];
            chopped = true;
        }
        var instance = IsInstance ? "@" + Instance : "";
        return Parse($"{prefix}{instance}.{Type}");
    }
}
