using System.Globalization;
using Supervisor.Import.Ini;
using Supervisor.Linux;
using Supervisor.Units.Keys;
using Supervisor.Units.Model;
using Supervisor.Units.Values;
using V = Supervisor.Units.Keys.ValueTypes;

namespace Supervisor.Import.Translate;

/// <summary>Converts the assignments of one key into its TOML value.</summary>
public delegate Converted Converter(KeyInput input, Context ctx);

/// <summary>A converter, and whether its value is text in which systemd would expand specifiers (%i, %n …).</summary>
public sealed record ConverterInfo(Converter Convert, bool Textual);

/// <summary>
/// Value conversion by the Supervisor key's type (Keys/ValueTypes.cs), each reading the value the
/// way systemd reads that directive: a boolean as parse_boolean, a time span as parse_sec, a list
/// word by word with an empty assignment resetting it. A key of a type this file does not know
/// (a key added to the table later) is converted by the shape its type describes (a boolean, a
/// list, a duration …), and Supervisor's parser has the last word on the result.
/// </summary>
public static class ValueConverters
{
    public static bool IsCommand(KeySpec spec) => spec.Type == V.Command.Describe || spec.Type == V.CommandList.Describe || spec.Type == V.ExecStartLines.Describe;

    public static ConverterInfo For(KeySpec spec)
    {
        var t = spec.Type;
        if (t == V.Bool.Describe) return new(Bool, false);
        if (t == V.Duration.Describe) return new(Duration, false);
        if (t == V.Size.Describe) return new(Size, false);
        if (t == V.TaskCount.Describe) return new(Tasks, false);
        if (t == V.CpuSet.Describe) return new(CpuSet, false);
        if (t == V.Signal.Describe) return new(Signal, false);
        if (t == V.ExitStatuses.Describe) return new(ExitStatuses, false);
        if (t == V.CapabilitySet.Describe) return new(SetConverters.CapabilityBoundingSet, false);
        if (t == V.CapabilityList.Describe) return new(SetConverters.AmbientCapabilities, false);
        if (t == V.SyscallFilter.Describe) return new(SetConverters.SyscallFilter, false);
        if (t == V.SyscallList.Describe) return new(SetConverters.SyscallLog, false);
        if (t == V.Environment.Describe) return new(SetConverters.Environment, true);
        if (t == V.DeviceLimits(bytes: true).Describe) return new((i, c) => SetConverters.DeviceLimits(i, c, bytes: true), false);
        if (t == V.DeviceLimits(bytes: false).Describe) return new((i, c) => SetConverters.DeviceLimits(i, c, bytes: false), false);
        if (t == V.RLimit(bytes: true).Describe) return new((i, c) => SetConverters.RLimit(i, c, bytes: true), false);
        if (t == V.RLimit(bytes: false).Describe) return new((i, c) => SetConverters.RLimit(i, c, bytes: false), false);
        if (t == V.UnitNameList.Describe) return new(UnitNameList, true);
        // Condition*/Assert*: one entry per assignment ("|!/path with spaces" is one value), an empty one resets.
        if (spec.Section == KeyTable.UnitSection && (spec.Name.StartsWith("Condition", StringComparison.Ordinal) || spec.Name.StartsWith("Assert", StringComparison.Ordinal)))
            return new(OnePerAssignment, true);
        if (t == V.OptionalPathList.Describe) return new(PathList, true);
        if (t == V.OptionalAbsolutePath.Describe) return new(WorkingDirectory, true);
        if (t == V.AbsolutePath.Describe) return new(AbsolutePath, true);
        // Types this file does not name: by the shape the type describes.
        if (t.StartsWith("boolean", StringComparison.Ordinal)) return new(Bool, false);
        if (t.StartsWith("true | false", StringComparison.Ordinal)) return t.Contains("array", StringComparison.Ordinal) ? new(BoolOrWords, false) : new(BoolOrText, false);
        if (t.StartsWith("integer", StringComparison.Ordinal)) return new(Integer, false);
        if (t.StartsWith("duration", StringComparison.Ordinal)) return new(Duration, false);
        if (t.StartsWith("size", StringComparison.Ordinal)) return new(Size, false);
        if (t.StartsWith("table", StringComparison.Ordinal)) return new(SetConverters.Environment, true);
        // A list, also one with a named alternative ("none" or array of …): systemd's list rules.
        if (t.Contains("array", StringComparison.Ordinal) || spec.Merge == MergeRule.List) return new(Words, true);
        if (t.StartsWith("percentage", StringComparison.Ordinal) || t.StartsWith('"')) return new(Text, false);
        return new(Text, true);
    }

    /// <summary>
    /// A directive that holds one value: the last assignment wins; an empty one resets it to the
    /// default when <paramref name="emptyResets"/> (systemd ignores an empty boolean or time span
    /// instead). An assignment systemd cannot parse is ignored, as systemd ignores it.
    /// </summary>
    public static Converted Last(KeyInput input, Context ctx, Func<Contribution, object> convert, bool emptyResets = true)
    {
        object? current = null;
        Contribution? from = null;
        NotCarriedException? failure = null;
        foreach (var c in input.Contributions)
        {
            if (c.Value.Length == 0 && emptyResets)
            {
                (current, from, failure) = (null, null, null);
                continue;
            }
            try
            {
                if (c.Value.Length == 0) throw new SystemdIgnoresException("an empty value; systemd ignores the line");
                (current, from, failure) = (convert(c), c, null);
            }
            catch (SystemdIgnoresException e)
            {
                ctx.Report.Add(c.Assignment, Why.IgnoredBySystemd, e.Message);
            }
            catch (NotCarriedException e)
            {
                (current, from, failure) = (null, null, e);
            }
        }
        if (failure is not null) throw failure;
        return from is null ? Converted.Nothing : new Converted(current, [from]);
    }

    public static Converted Text(KeyInput input, Context ctx) => Last(input, ctx, c => c.Value);

    public static Converted Bool(KeyInput input, Context ctx) => Last(input, ctx, c => SystemdValues.TryBool(c.Value, out var b)
        ? b : throw new SystemdIgnoresException($"\"{c.Value}\" is not a boolean; systemd ignores the line"), emptyResets: false);

    public static Converted BoolOrText(KeyInput input, Context ctx) => Last(input, ctx, c => SystemdValues.TryBool(c.Value, out var b) ? b : c.Value);

    /// <summary>
    /// A boolean or a list (RestrictNamespaces=yes, or =~user net): a boolean word decides it
    /// alone; the lists after the last boolean or empty assignment combine by the list rule.
    /// </summary>
    public static Converted BoolOrWords(KeyInput input, Context ctx)
    {
        int last = input.Contributions.FindLastIndex(c => c.Value.Length == 0 || SystemdValues.TryBool(c.Value, out _));
        if (last == input.Contributions.Count - 1)
            return input.Contributions[last].Value.Length == 0 ? Converted.Nothing : BoolOrText(input, ctx);
        var lists = new KeyInput(input.Spec);
        lists.Contributions.AddRange(input.Contributions.Skip(last + 1));
        return Words(lists, ctx);
    }

    public static Converted Integer(KeyInput input, Context ctx) => Last(input, ctx, c =>
        long.TryParse(c.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : c.Value);

    public static Converted Duration(KeyInput input, Context ctx) => Last(input, ctx, c =>
    {
        if (!SystemdValues.TryTimespan(c.Value, 1_000_000, out var usec))
            throw new SystemdIgnoresException($"\"{c.Value}\" is not a time span; systemd ignores the line");
        // systemd: "Pass 0 to disable the timeout logic"; Supervisor says "infinity" for that.
        if (usec is null || (usec == 0 && SystemdDirectives.ZeroMeansInfinity.Contains(c.Assignment.Key))) return "infinity";
        return new Supervisor.Units.Values.Duration(usec.Value).ToString();
    }, emptyResets: false);

    public static Converted Size(KeyInput input, Context ctx) => Last(input, ctx, c =>
    {
        if (c.Value == "infinity") return "infinity";
        if (SystemdValues.IsRelative(c.Value))
            throw new NotCarriedException(c.Assignment, Why.NotExpressible, $"\"{c.Value}\" is a share of the memory of the host it runs on; Supervisor takes a size");
        return SystemdValues.TrySize(c.Value, 1024, out var bytes)
            ? Supervisor.Units.Values.Size.FromBytes(bytes).ToString()
            : throw new SystemdIgnoresException($"\"{c.Value}\" is not a size; systemd ignores the line");
    });

    public static Converted Tasks(KeyInput input, Context ctx) => Last(input, ctx, c =>
    {
        if (c.Value == "infinity") return "infinity";
        if (SystemdValues.IsRelative(c.Value))
            throw new NotCarriedException(c.Assignment, Why.NotExpressible, $"\"{c.Value}\" is a share of the kernel's pid limit on the host it runs on; Supervisor takes a number");
        return SystemdValues.TryUInt64(c.Value, out var n) && n <= long.MaxValue
            ? (object)(long)n
            : throw new SystemdIgnoresException($"\"{c.Value}\" is not a number of tasks; systemd ignores the line");
    });

    /// <summary>AllowedCPUs: systemd takes "0-3 6" or "0-3,6", and every assignment adds to the set.</summary>
    public static Converted CpuSet(KeyInput input, Context ctx)
    {
        var parts = new List<string>();
        var from = new List<Contribution>();
        foreach (var c in input.Contributions)
        {
            if (c.Value.Length == 0)
            {
                parts.Clear();
                from.Clear();
                continue;
            }
            parts.AddRange(c.Value.Split([' ', '\t', ','], StringSplitOptions.RemoveEmptyEntries));
            from.Add(c);
        }
        return parts.Count == 0 ? Converted.Nothing : new Converted(string.Join(',', parts), from);
    }

    /// <summary>A signal by name; systemd also takes a number, which is written as the name.</summary>
    public static Converted Signal(KeyInput input, Context ctx) => Last(input, ctx, c =>
        int.TryParse(c.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is > 0 and < 32 ? Signals.Name(n) : c.Value);

    /// <summary>SuccessExitStatus and friends: numbers, systemd's exit status names (DATAERR …) and signal names.</summary>
    public static Converted ExitStatuses(KeyInput input, Context ctx) => List(input, ctx, WordRules.None, (word, c) =>
    {
        if (int.TryParse(word, NumberStyles.None, CultureInfo.InvariantCulture, out var code) && code <= 255) return (long)code;
        if (SystemdDirectives.ExitStatusNames.TryGetValue(word, out var named)) return (long)named;
        if (Signals.TryParse(word, out var signal)) return Signals.Name(signal);
        ctx.Report.Add(c.Assignment, Why.IgnoredBySystemd, $"\"{word}\" is not an exit status or signal; systemd ignores it");
        return null;
    });

    /// <summary>
    /// A list directive: words appended assignment by assignment, an empty assignment clearing
    /// the list. <paramref name="item"/> converts a word, or returns null to leave it out (it reports why).
    /// </summary>
    public static Converted List(KeyInput input, Context ctx, WordRules rules, Func<string, Contribution, object?> item)
    {
        var items = new List<object>();
        var from = new List<Contribution>();
        foreach (var c in input.Contributions)
        {
            if (c.Value.Length == 0)
            {
                items.Clear();
                from.Clear();
                continue;
            }
            List<string> words;
            try
            {
                words = SystemdDirectives.OneItemPerAssignment.Contains(c.Assignment.Key) ? [c.Value] : SystemdWords.Split(c.Value, rules);
            }
            catch (WordSyntaxException e)
            {
                ctx.Report.Add(c.Assignment, Why.IgnoredBySystemd, $"{e.Message}; systemd ignores the line");
                continue;
            }
            foreach (var w in words)
                if (item(w, c) is { } converted) items.Add(converted);
            from.Add(c);
        }
        return items.Count == 0 ? Converted.Nothing : new Converted(Plain.List(items), from);
    }

    /// <summary>A list whose every assignment is one item, as systemd's condition lists; an empty assignment clears it.</summary>
    public static Converted OnePerAssignment(KeyInput input, Context ctx)
    {
        var items = new List<object>();
        var from = new List<Contribution>();
        foreach (var c in input.Contributions)
        {
            if (c.Value.Trim().Length == 0)
            {
                items.Clear();
                from.Clear();
                continue;
            }
            items.Add(c.Value.Trim());
            from.Add(c);
        }
        return items.Count == 0 ? Converted.Nothing : new Converted(Plain.List(items), from);
    }

    /// <summary>
    /// A list of words of a type this file does not name. A first word starting with "~" makes
    /// it a list of what to take away, as systemd's RestrictAddressFamilies and its like: then
    /// assignments of the same kind add to it and assignments of the other kind take from it.
    /// </summary>
    public static Converted Words(KeyInput input, Context ctx)
    {
        if (!input.Contributions.Any(c => c.Value.StartsWith('~')))
            return List(input, ctx, WordRules.Unquote, (w, _) => w);
        bool? deny = null;
        // The words in the order first added (a word taken out and added again goes to the end).
        var set = new Dictionary<string, long>(StringComparer.Ordinal);
        long order = 0;
        var from = new List<Contribution>();
        foreach (var c in input.Contributions)
        {
            if (c.Value.Length == 0)
            {
                (deny, set, from) = (null, new(StringComparer.Ordinal), []);
                continue;
            }
            bool invert = c.Value.StartsWith('~');
            var words = SystemdWords.Split(invert ? c.Value[1..] : c.Value, WordRules.Unquote);
            deny ??= invert;
            foreach (var w in words)
            {
                if (invert == deny) set.TryAdd(w, order++);
                else set.Remove(w);
            }
            from.Add(c);
        }
        if (deny is null) return Converted.Nothing;
        var items = set.OrderBy(kv => kv.Value).Select((kv, i) => (object)(i == 0 && deny == true ? "~" + kv.Key : kv.Key)).ToList();
        return new Converted(Plain.List(items), from);
    }

    /// <summary>
    /// Dependencies. systemd's "db.service" is Supervisor's unit "db"; a slice keeps its suffix.
    /// A unit of a type Supervisor does not have (.socket, .mount …) is left out of the list; a .target is carried.
    /// </summary>
    public static Converted UnitNameList(KeyInput input, Context ctx) => List(input, ctx, WordRules.None, (word, c) =>
    {
        // A specifier stands for part of a name: the type is still the suffix.
        if (SystemdUnitName.Parse(word.Replace('%', 'x')) is not { } name)
        {
            ctx.Report.Add(c.Assignment, Why.IgnoredBySystemd, $"\"{word}\" is not a unit name; systemd ignores it");
            return null;
        }
        var kinds = Enum.GetNames<UnitKind>().Select(k => k.ToLowerInvariant());
        if (!kinds.Contains(name.Type))
        {
            ctx.Report.Add(c.Assignment, Why.OtherUnitType, $"{word}: Supervisor has no .{name.Type} units (not built yet); the dependency on it is left out");
            return null;
        }
        var ours = name.Type == "service" ? word[..^".service".Length] : word;
        // Specifiers are resolved when the unit is loaded: check the name with each one standing for a letter.
        if (!UnitNames.IsValid(ours.Replace('%', 'x')))
        {
            ctx.Report.Add(c.Assignment, Why.NotExpressible, $"{word}: {UnitNames.Rule}; the dependency on it is left out");
            return null;
        }
        return ours;
    });

    /// <summary>
    /// Paths with systemd's prefixes: "-" (may be missing) is Supervisor's too; "+" (inside
    /// RootDirectory) is the same path when there is no RootDirectory.
    /// </summary>
    public static Converted PathList(KeyInput input, Context ctx) => List(input, ctx, WordRules.Unquote, (word, c) =>
    {
        bool optional = false, rooted = false;
        var path = word;
        while (path.Length > 0 && ((path[0] == '-' && !optional) || (path[0] == '+' && !rooted)))
        {
            if (path[0] == '-') optional = true; else rooted = true;
            path = path[1..];
        }
        if (rooted && ctx.IsSet("RootDirectory"))
            throw new NotCarriedException(c.Assignment, Why.NotExpressible, $"\"{word}\": the \"+\" prefix (a path inside RootDirectory) has no Supervisor form");
        return (optional ? "-" : "") + path;
    });

    public static Converted WorkingDirectory(KeyInput input, Context ctx) => Last(input, ctx, c =>
    {
        var path = c.Value.StartsWith('-') ? c.Value[1..] : c.Value;
        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal))
            throw new NotCarriedException(c.Assignment, Why.NotExpressible, "\"~\" means the home directory of User, which Supervisor does not look up; write the path");
        return c.Value;
    });

    /// <summary>An absolute path; systemd puts a relative PIDFile under /run.</summary>
    public static Converted AbsolutePath(KeyInput input, Context ctx) => Last(input, ctx, c =>
        c.Assignment.Key == "PIDFile" && !c.Value.StartsWith('/') ? "/run/" + c.Value : c.Value);
}
