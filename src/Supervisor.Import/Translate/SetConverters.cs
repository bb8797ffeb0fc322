using System.Globalization;
using System.Numerics;
using Supervisor.Import.Ini;
using Supervisor.Units.Keys;
using Supervisor.Units.Values;

namespace Supervisor.Import.Translate;

/// <summary>Directives whose assignments combine by a rule of their own: capability sets, the system call filter, the environment, IO limits, resource limits.</summary>
public static class SetConverters
{
    private static ulong AllCapabilities => Capabilities.Last >= 63 ? ulong.MaxValue : (1UL << (Capabilities.Last + 1)) - 1;

    /// <summary>
    /// CapabilityBoundingSet, by systemd's rule (config_parse_capability_set): "~" inverts one
    /// assignment; the first assignment, an empty one (no capabilities at all) or "~" alone sets
    /// the set, and later ones add to it (or, with "~", take from it). The result is written as the
    /// shorter of an allow list and a "~" drop list; all capabilities is the default, written as nothing.
    /// </summary>
    public static Converted CapabilityBoundingSet(KeyInput input, Context ctx)
    {
        var (mask, from) = Capabilities_(input, ctx, initiallySet: false);
        if (mask is null || mask == AllCapabilities) return Converted.Nothing;
        int allowed = BitOperations.PopCount(mask.Value);
        if (allowed * 2 <= Capabilities.Last + 1) return new Converted(Names(mask.Value), from);
        var dropped = Names(AllCapabilities & ~mask.Value);
        dropped[0] = "~" + dropped[0];
        return new Converted(dropped, from);
    }

    /// <summary>AmbientCapabilities: the same rule, starting from the empty set; written as a list.</summary>
    public static Converted AmbientCapabilities(KeyInput input, Context ctx)
    {
        var (mask, from) = Capabilities_(input, ctx, initiallySet: true);
        return mask is null or 0 ? Converted.Nothing : new Converted(Names(mask.Value), from);
    }

    private static (ulong? Mask, List<Contribution> From) Capabilities_(KeyInput input, Context ctx, bool initiallySet)
    {
        ulong? set = initiallySet ? 0 : null;
        var from = new List<Contribution>();
        foreach (var c in input.Contributions)
        {
            bool invert = c.Value.StartsWith('~');
            ulong sum = 0;
            foreach (var word in SystemdWords.Split(invert ? c.Value[1..] : c.Value, WordRules.Unquote | WordRules.Relax))
            {
                if (Capabilities.TryParse(word, out var n)) sum |= 1UL << n;
                else ctx.Report.Add(c.Assignment, Why.IgnoredBySystemd, $"\"{word}\" is not a capability; systemd ignores it");
            }
            // systemd replaces the set on an empty assignment or when none was made yet, and merges otherwise.
            bool replace = sum == 0 || (initiallySet ? set == 0 : set is null);
            if (replace)
            {
                set = invert ? AllCapabilities & ~sum : sum;
                from.Clear();
            }
            else
            {
                set = invert ? set & ~sum : set | sum;
            }
            from.Add(c);
        }
        return (set, from);
    }

    private static List<object> Names(ulong mask) =>
        [.. Enumerable.Range(0, Capabilities.Last + 1).Where(i => (mask & (1UL << i)) != 0).Select(i => (object)Capabilities.Name(i))];

    /// <summary>
    /// SystemCallFilter: one entry per assignment, in order, which is Supervisor's rule as it is
    /// systemd's (a first "~" makes a deny list; later entries of the other kind take calls out).
    /// systemd's allow list always admits @default as well, so it is written first.
    /// </summary>
    public static Converted SyscallFilter(KeyInput input, Context ctx)
    {
        var entries = new List<object>();
        var from = new List<Contribution>();
        foreach (var c in input.Contributions)
        {
            if (c.Value.Length == 0)
            {
                entries.Clear();
                from.Clear();
                continue;
            }
            bool invert = c.Value.StartsWith('~');
            var words = SystemdWords.Split(invert ? c.Value[1..] : c.Value, WordRules.None);
            if (words.Count == 0) continue;
            if (entries.Count == 0 && !invert) entries.Add("@default");
            entries.Add((invert ? "~" : "") + string.Join(' ', words));
            from.Add(c);
        }
        return entries.Count == 0 ? Converted.Nothing : new Converted(Plain.List(entries), from);
    }

    /// <summary>SystemCallLog: Supervisor's is a list of calls to log; systemd's "~" form (log all but these) has no equivalent.</summary>
    public static Converted SyscallLog(KeyInput input, Context ctx)
    {
        foreach (var c in input.Contributions)
            if (c.Value.StartsWith('~'))
                throw new NotCarriedException(c.Assignment, Why.NotExpressible, "\"~\" (log every call except these) has no Supervisor form");
        return ValueConverters.List(input, ctx, WordRules.None, (w, _) => w);
    }

    /// <summary>
    /// Environment: quoted NAME=value words with C escapes; a later value of a name wins, an
    /// empty assignment clears them all. A word without "=" is ignored by systemd.
    /// </summary>
    public static Converted Environment(KeyInput input, Context ctx)
    {
        var env = new List<KeyValuePair<string, object>>();
        var at = new Dictionary<string, int>(StringComparer.Ordinal);
        var from = new List<Contribution>();
        foreach (var c in input.Contributions)
        {
            if (c.Value.Length == 0)
            {
                env.Clear();
                at.Clear();
                from.Clear();
                continue;
            }
            List<string> words;
            try
            {
                words = SystemdWords.Split(c.Value, WordRules.Unquote | WordRules.CUnescape);
            }
            catch (WordSyntaxException e)
            {
                ctx.Report.Add(c.Assignment, Why.IgnoredBySystemd, $"{e.Message}; systemd ignores the line");
                continue;
            }
            foreach (var word in words)
            {
                int eq = word.IndexOf('=');
                if (eq <= 0)
                {
                    ctx.Report.Add(c.Assignment, Why.IgnoredBySystemd, $"\"{word}\" is not NAME=value; systemd ignores it");
                    continue;
                }
                var name = word[..eq];
                if (at.TryGetValue(name, out var index)) env[index] = new(name, word[(eq + 1)..]);
                else
                {
                    at[name] = env.Count;
                    env.Add(new(name, word[(eq + 1)..]));
                }
            }
            from.Add(c);
        }
        return env.Count == 0 ? Converted.Nothing : new Converted(Plain.Table(env), from);
    }

    /// <summary>The static environment a unit ends with (Environment= after its resets), for expanding $NAME in commands.</summary>
    public static Dictionary<string, string> FinalEnvironment(IEnumerable<Contribution> contributions)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var c in contributions)
        {
            if (c.Value.Length == 0)
            {
                env.Clear();
                continue;
            }
            try
            {
                foreach (var word in SystemdWords.Split(c.Value, WordRules.Unquote | WordRules.CUnescape))
                    if (word.IndexOf('=') is > 0 and var eq) env[word[..eq]] = word[(eq + 1)..];
            }
            catch (WordSyntaxException)
            {
                // Ignored by systemd, and reported where the Environment key is converted.
            }
        }
        return env;
    }

    /// <summary>
    /// IO limits: "DEVICE VALUE" per assignment; the value is in bytes with K M G T as powers of
    /// 1000 (systemd.resource-control(5)), or "infinity", which removes the device's limit.
    /// </summary>
    public static Converted DeviceLimits(KeyInput input, Context ctx, bool bytes)
    {
        // Device → limit, in the order devices were first named.
        var limits = new Dictionary<string, long>(StringComparer.Ordinal);
        var from = new List<Contribution>();
        foreach (var c in input.Contributions)
        {
            if (c.Value.Length == 0)
            {
                limits.Clear();
                from.Clear();
                continue;
            }
            int pos = 0;
            var device = SystemdWords.Next(c.Value, ref pos, WordRules.Unquote);
            var value = c.Value[pos..].Trim();
            if (device is null || value.Length == 0)
            {
                ctx.Report.Add(c.Assignment, Why.IgnoredBySystemd, "expected \"DEVICE VALUE\"; systemd ignores the line");
                continue;
            }
            if (!device.StartsWith("/dev/", StringComparison.Ordinal))
                throw new NotCarriedException(c.Assignment, Why.NotExpressible, $"\"{device}\" is a file, for whose block device systemd looks at start; Supervisor takes the device under /dev");
            limits.Remove(device);
            from.Add(c);
            if (value == "infinity") continue;
            if (!SystemdValues.TrySize(value, 1000, out var n))
            {
                ctx.Report.Add(c.Assignment, Why.IgnoredBySystemd, $"\"{value}\" is not a {(bytes ? "bandwidth" : "number of operations")}; systemd ignores the line");
                continue;
            }
            limits[device] = (long)Math.Min(n, long.MaxValue);
        }
        return limits.Count == 0 ? Converted.Nothing
            : new Converted(Plain.Table(limits.Select(kv => new KeyValuePair<string, object>(kv.Key, kv.Value))), from);
    }

    /// <summary>
    /// Limit*: "soft:hard" or one value for both, "infinity", and per limit the unit systemd reads
    /// it in (rlimit-util.c): LimitCPU a time span in whole seconds (rounded up), LimitRTTIME a time
    /// span in microseconds, LimitNICE a raw 0–40 or a nice level with a sign (+5, -10), the
    /// byte-sized ones a size, the rest a number.
    /// </summary>
    public static Converted RLimit(KeyInput input, Context ctx, bool bytes) => ValueConverters.Last(input, ctx, object (c) =>
    {
        var parts = c.Value.Split(':');
        if (parts.Length > 2) throw new SystemdIgnoresException($"\"{c.Value}\" is not a limit or soft:hard; systemd ignores the line");
        var soft = OneLimit(parts[0], c, bytes);
        var hard = parts.Length == 2 ? OneLimit(parts[1], c, bytes) : soft;
        if (soft > hard) throw new SystemdIgnoresException($"the soft limit is above the hard limit in \"{c.Value}\"; systemd ignores the line");
        string Text(ulong n) => n == ulong.MaxValue ? "infinity" : bytes ? Size.FromBytes(n).ToString() : n.ToString(CultureInfo.InvariantCulture);
        if (soft == hard && !bytes && soft <= long.MaxValue) return (long)soft;
        return soft == hard ? Text(soft) : $"{Text(soft)}:{Text(hard)}";
    });

    private static ulong OneLimit(string text, Contribution c, bool bytes)
    {
        var s = text.Trim();
        if (s == "infinity") return ulong.MaxValue;
        ulong value;
        bool ok;
        switch (c.Assignment.Key)
        {
            case "LimitCPU":
                ok = SystemdValues.TryTimespan(s, 1_000_000, out var cpu);
                value = cpu is { } us ? (ulong)((us + 999_999) / 1_000_000) : ulong.MaxValue;
                break;
            case "LimitRTTIME":
                ok = SystemdValues.TryTimespan(s, 1, out var rt);
                value = rt is { } r ? (ulong)r : ulong.MaxValue;
                break;
            case "LimitNICE" when s.StartsWith('+') || s.StartsWith('-'):
                ok = int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var nice) && nice is >= -20 and <= 19;
                value = (ulong)(20 - nice);
                break;
            default:
                ok = bytes ? SystemdValues.TrySize(s, 1024, out value) : SystemdValues.TryUInt64(s, out value);
                if (c.Assignment.Key == "LimitNICE" && value > 40) ok = false;
                break;
        }
        return ok ? value : throw new SystemdIgnoresException($"\"{text}\" is not a valid {c.Assignment.Key}; systemd ignores the line");
    }
}
