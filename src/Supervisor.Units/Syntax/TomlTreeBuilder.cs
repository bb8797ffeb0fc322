using Tomlyn.Syntax;

namespace Supervisor.Units.Syntax;

/// <summary>
/// Turns Tomlyn's syntax tree into a <see cref="TomlDocument"/>, and checks TOML's rule that
/// every key and table is defined once (Tomlyn's own check is not used, see
/// <see cref="UnitFileReader"/>): a key written twice, <c>[Service]</c> twice, a dotted key that
/// extends an inline table, a header that reopens a table made by dotted keys. Keys are looked
/// up in dictionaries, so this is linear in the number of keys. Strings may not contain NUL
/// (written as <c>\u0000</c>): no program argument, path or label can hold one.
/// </summary>
internal sealed class TomlTreeBuilder(string path, string unit, ICollection<Diagnostic> diagnostics)
{
    /// <summary>How a table came to be, which decides what may still be added to it (TOML 1.0).</summary>
    private enum Origin
    {
        /// <summary>Named on the way to a header ([a] of [a.b]): a later [a] may still define it.</summary>
        Implicit,
        /// <summary>Defined by a [header].</summary>
        Header,
        /// <summary>Made by a dotted key (a.b = 1 makes a): more dotted keys may extend it, a header may not.</summary>
        Dotted,
        /// <summary>An inline table: complete as written.</summary>
        Inline,
    }

    private sealed class Table(SourceLocation at, Origin origin)
    {
        public SourceLocation At { get; set; } = at;
        public Origin Origin { get; set; } = origin;
        public Dictionary<string, Slot> Slots { get; } = new(StringComparer.Ordinal);
        public List<string> Order { get; } = [];

        public void Add(string key, Slot slot)
        {
            Slots.Add(key, slot);
            Order.Add(key);
        }
    }

    /// <summary>What a key holds: a table (that may still grow) or a finished value.</summary>
    private sealed record Slot(SourceLocation KeyAt, Table? Table, TomlValue? Value);

    private readonly Table _root = new(new SourceLocation(path, 1, 1), Origin.Header);
    private int _errors;

    public TomlDocument? Build(DocumentSyntax doc)
    {
        foreach (var kv in doc.KeyValues)
            AddKeyValue(_root, "", kv);
        foreach (var header in doc.Tables)
        {
            var at = UnitFileReader.Loc(header.Span, path);
            if (header is TableArraySyntax)
            {
                Error(at, $"[[{header.Name}]] is an array of tables; unit files use plain [Section] headers");
                continue;
            }
            if (KeyNames(header.Name!, at) is not { } names || OpenHeader(names, at) is not { } table) continue;
            var name = string.Join('.', names.Select(n => n.Name));
            foreach (var kv in header.Items)
                AddKeyValue(table, name, kv);
        }
        return _errors > 0 ? null : ToDocument();
    }

    /// <summary>The table a [header] defines, or null (reported) when TOML forbids defining it here.</summary>
    private Table? OpenHeader(List<(string Name, SourceLocation At)> names, SourceLocation at)
    {
        var current = _root;
        for (int i = 0; i < names.Count; i++)
        {
            var (name, _) = names[i];
            bool last = i == names.Count - 1;
            if (!current.Slots.TryGetValue(name, out var slot))
            {
                var created = new Table(at, last ? Origin.Header : Origin.Implicit);
                current.Add(name, new Slot(at, created, null));
                current = created;
                continue;
            }
            var shown = string.Join('.', names.Take(i + 1).Select(n => n.Name));
            if (!last && slot.Table is { Origin: not Origin.Inline } through)
            {
                current = through;
                continue;
            }
            if (last && slot.Table is { Origin: Origin.Implicit } named)
            {
                named.Origin = Origin.Header;
                named.At = at;
                return named;
            }
            Error(at, slot.Table switch
            {
                { Origin: Origin.Header } t => $"not valid TOML: table [{shown}] is defined twice (first at {Where(t.At)})",
                { Origin: Origin.Dotted } => $"not valid TOML: table [{shown}] is already defined by the dotted key at {Where(slot.KeyAt)}",
                _ => $"not valid TOML: key '{shown}' is already defined at {Where(slot.KeyAt)}",
            });
            return null;
        }
        return current;
    }

    private void AddKeyValue(Table table, string tableName, KeyValueSyntax kv)
    {
        var keyAt = UnitFileReader.Loc(kv.Key!.Span, path);
        var names = KeyNames(kv.Key!, keyAt);
        if (names is null) return;
        var current = table;
        for (int i = 0; i < names.Count; i++)
        {
            var (name, _) = names[i];
            bool last = i == names.Count - 1;
            if (current.Slots.TryGetValue(name, out var slot))
            {
                if (!last && slot.Table is { Origin: Origin.Dotted } dotted)
                {
                    current = dotted;
                    continue;
                }
                var shown = string.Join('.', names.Take(i + 1).Select(n => n.Name));
                Error(keyAt, $"not valid TOML: key '{shown}'{(tableName.Length > 0 ? $" in [{tableName}]" : "")} is already defined at {Where(slot.KeyAt)}");
                return;
            }
            if (last)
            {
                current.Add(name, ValueSlot(keyAt, kv.Value!));
                return;
            }
            var created = new Table(keyAt, Origin.Dotted);
            current.Add(name, new Slot(keyAt, created, null));
            current = created;
        }
    }

    private Slot ValueSlot(SourceLocation keyAt, ValueSyntax value) =>
        value is InlineTableSyntax inline ? new Slot(keyAt, Inline(inline), null) : new Slot(keyAt, null, Convert(value));

    private Table Inline(InlineTableSyntax syntax)
    {
        // Open while its own keys go in (x.y = 1, x.z = 2 inside the braces is fine), closed after.
        var table = new Table(UnitFileReader.Loc(syntax.Span, path), Origin.Dotted);
        foreach (var item in syntax.Items)
            AddKeyValue(table, "", item.KeyValue!);
        table.Origin = Origin.Inline;
        return table;
    }

    private TomlValue Convert(ValueSyntax value)
    {
        var at = UnitFileReader.Loc(value.Span, path);
        switch (value)
        {
            case StringValueSyntax s: return new TomlString(at, Text(s.Value ?? "", at));
            case IntegerValueSyntax i: return new TomlInteger(at, i.Value);
            case FloatValueSyntax f: return new TomlFloat(at, f.Value);
            case BooleanValueSyntax b: return new TomlBoolean(at, b.Value);
            case DateTimeValueSyntax d: return new TomlDateTime(at, d.ToString().Trim());
            case ArraySyntax a:
                var items = new List<TomlValue>();
                foreach (var item in a.Items)
                    items.Add(item.Value is InlineTableSyntax t ? ToValue(Inline(t)) : Convert(item.Value!));
                return new TomlArray(at, items);
            default:
                Error(at, $"unsupported TOML value '{value.ToString().Trim()}'");
                return new TomlString(at, "");
        }
    }

    /// <summary>The parts of a (dotted) key; null (reported) for one with a NUL or absurdly many parts.</summary>
    private List<(string Name, SourceLocation At)>? KeyNames(KeySyntax key, SourceLocation at)
    {
        var names = new List<(string, SourceLocation)> { (KeyText(key.Key!), at) };
        foreach (var dot in key.DotKeys)
            names.Add((KeyText(dot.Key!), at));
        if (names.Count > Limits.MaxNestingDepth)
        {
            Error(at, $"key '{string.Join('.', names.Take(3).Select(n => n.Item1))}…' has more than {Limits.MaxNestingDepth} dotted parts");
            return null;
        }
        foreach (var (name, _) in names)
            Text(name, at);
        return names;
    }

    private static string KeyText(BareKeyOrStringValueSyntax key) => key switch
    {
        BareKeySyntax b => b.Key!.Text ?? "",
        StringValueSyntax s => s.Value ?? "",
        _ => key.ToString().Trim(),
    };

    private string Text(string s, SourceLocation at)
    {
        if (s.Contains('\0'))
            Error(at, "a string contains a NUL character (\\u0000); no argument, path or name can hold one");
        return s;
    }

    private TomlDocument ToDocument()
    {
        bool IsSection(string key) => _root.Slots[key].Table is { Origin: Origin.Header or Origin.Implicit };
        var sections = new List<TomlSection>();
        // Keys before any header (and tables made by dotted keys there) are outside every section.
        var outside = _root.Order.Where(k => !IsSection(k)).ToList();
        if (outside.Count > 0)
            sections.Add(new TomlSection("", _root.Slots[outside[0]].KeyAt, [.. outside.Select(k => Entry(_root, k))]));
        foreach (var key in _root.Order.Where(IsSection))
        {
            var table = _root.Slots[key].Table!;
            sections.Add(new TomlSection(key, table.At, [.. table.Order.Select(k => Entry(table, k))]));
        }
        return new TomlDocument(path, sections);
    }

    private static TomlEntry Entry(Table table, string key)
    {
        var slot = table.Slots[key];
        return new TomlEntry(key, slot.KeyAt, slot.Table is { } t ? ToValue(t) : slot.Value!);
    }

    private static TomlTable ToValue(Table table) => new(table.At, [.. table.Order.Select(k => Entry(table, k))]);

    private static string Where(SourceLocation at) => $"{at.Line}:{at.Column}";

    private void Error(SourceLocation at, string message)
    {
        diagnostics.Add(new Diagnostic(Severity.Error, at, unit, null, null, message));
        _errors++;
    }
}
