namespace Supervisor.Cgroups.V1;

/// <summary>
/// v1 devices controller: DevicePolicy/DeviceAllow → the cgroup's device list. Read from
/// devices.list ("a *:* rwm" while everything is allowed, else one "c 1:3 rwm" line per allowed
/// node), changed through devices.deny ("a": deny by default, dropping every exception) and
/// devices.allow (one exception per write; "a": allow everything again). A live change adds what
/// is new before it takes away what went, so a device allowed before and after stays usable.
/// </summary>
internal sealed class Devices(DriverContext ctx) : IController
{
    private const string AllowAll = "all allowed";
    private const string NothingAllowed = "nothing allowed";

    private readonly string? _hierarchy = ctx.Layout.V1Mounts.GetValueOrDefault("devices");

    public string Name => "devices";

    public bool Available => _hierarchy is not null;

    public void CannotHonour(ResourceLimits l, List<Unhonoured> into)
    {
        if (!l.HasDevices)
        {
            return;
        }
        if (!Available)
        {
            ControllerHelpers.Missing(into, Name, "is not mounted", (ResourceKeys.DevicePolicy, l.DevicePolicy is not null), (ResourceKeys.DeviceAllow, l.DeviceAllow is { Count: > 0 }));
            return;
        }
        foreach (var why in DeviceRuleSet.Resolve(l, ctx)?.Ignored ?? [])
        {
            into.Add(new Unhonoured(ResourceKeys.DeviceAllow, why, UnhonouredKind.Ignored));
        }
    }

    public void AddSettings(ResourceLimits l, string dir, List<LimitSetting> into)
    {
        if (!Available || !l.HasDevices)
        {
            return;
        }
        var list = Path.Combine(dir, "devices.list");
        // No restriction declared ("auto" without a list, or a policy just removed): as much as the
        // parent allows. A slice's rules bind its units, and v1 refuses "a" below a parent that denies.
        var rules = DeviceRuleSet.Resolve(l, ctx)?.Rules ?? ParentRules(dir);
        var allow = Path.Combine(dir, "devices.allow");
        var deny = Path.Combine(dir, "devices.deny");
        into.Add(new LimitSetting(l.DeviceAllow is { Count: > 0 } ? ResourceKeys.DeviceAllow : ResourceKeys.DevicePolicy,
            list, Normalise(rules), text => Normalise(Parse(text)))
        {
            Plan = text => Writes(Parse(text), rules, allow, deny),
            WrittenFiles = [allow, deny],
        });
    }

    public void ReadStats(string dir, StatReader reader, CgroupStats stats)
    {
        // No accounting: the controller only gates access.
    }

    private static List<DeviceRule>? ParentRules(string dir)
    {
        var parent = Path.GetDirectoryName(dir);
        var text = parent is null ? null : CgroupFs.TryReadText(Path.Combine(parent, "devices.list"), out _);
        return text is null ? null : Parse(text);
    }

    /// <summary>devices.list as rules; null when the cgroup allows everything.</summary>
    internal static List<DeviceRule>? Parse(string text)
    {
        var rules = new List<DeviceRule>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(' ');
            var numbers = parts.Length == 3 ? parts[1].Split(':') : [];
            if (numbers.Length != 2)
            {
                continue;
            }
            if (parts[0] == "a")
            {
                return null; // printed only while the default is to allow
            }
            rules.Add(new DeviceRule(parts[0][0], Number(numbers[0]), Number(numbers[1]), DeviceAccessText.Parse(parts[2])));
        }
        return rules;
    }

    private static uint? Number(string s) => uint.TryParse(s, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : null;

    internal static string Normalise(IReadOnlyList<DeviceRule>? rules) =>
        rules is null ? AllowAll
        : rules.Count == 0 ? NothingAllowed
        : string.Join(", ", rules.OrderBy(r => r.Type).ThenBy(r => r.Major ?? uint.MaxValue).ThenBy(r => r.Minor ?? uint.MaxValue).Select(r => r.ToString()));

    /// <summary>The writes that turn <paramref name="current"/> into <paramref name="wanted"/> (null: allow everything).</summary>
    internal static IReadOnlyList<(string File, string Value)> Writes(List<DeviceRule>? current, IReadOnlyList<DeviceRule>? wanted, string allow, string deny)
    {
        var writes = new List<(string, string)>();
        if (wanted is null)
        {
            if (current is not null)
            {
                writes.Add((allow, "a"));
            }
            return writes;
        }
        if (current is null)
        {
            // Deny by default first: it also drops every exception the file held.
            writes.Add((deny, "a"));
            current = [];
        }
        foreach (var w in wanted)
        {
            var have = current.FirstOrDefault(c => c.Node == w.Node)?.Access ?? DeviceAccess.None;
            if ((w.Access & ~have) != 0)
            {
                writes.Add((allow, w.ToString()));
            }
        }
        foreach (var c in current)
        {
            var keep = wanted.FirstOrDefault(w => w.Node == c.Node)?.Access ?? DeviceAccess.None;
            var extra = c.Access & ~keep;
            if (extra != 0)
            {
                writes.Add((deny, (c with { Access = extra }).ToString()));
            }
        }
        return writes;
    }
}
