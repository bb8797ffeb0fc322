using Supervisor.Units.Model;
using Supervisor.Units.Syntax;

namespace Supervisor.Units.Templates;

/// <summary>
/// Resolves the specifiers in every string of a unit's effective values (command words, paths,
/// Environment names and values, Description, dependency names, …) before they are parsed, so
/// every key sees the text systemd would. Numbers, booleans and the percent form "50%" are left
/// as they are (a '%' at the end of a string is kept, as in systemd).
/// </summary>
internal static class SpecifierExpansion
{
    public static void Apply(string name, UnitKind kind, Dictionary<string, TomlValue> effective, ICollection<Diagnostic> diagnostics)
    {
        var unit = new UnitNameParts(name, kind);
        foreach (var (id, value) in effective.ToList())
        {
            var dot = id.IndexOf('.', StringComparison.Ordinal);
            var (section, key) = (id[..dot], id[(dot + 1)..]);
            try
            {
                effective[id] = Expand(value, unit);
            }
            catch (LocatedSpecifierException e)
            {
                diagnostics.Add(new Diagnostic(Severity.Error, e.At, name, section, key, $"[{section}] {key}: {e.Inner.Message}", e.Inner.Hint));
            }
        }
    }

    private static TomlValue Expand(TomlValue value, UnitNameParts unit) => value switch
    {
        TomlString s => s with { Value = ExpandString(s.Value, s.Location, unit) },
        TomlArray a => a with { Items = a.Items.Select(i => Expand(i, unit)).ToList() },
        TomlTable t => t with
        {
            Entries = t.Entries.Select(e => e with { Key = ExpandString(e.Key, e.KeyLocation, unit), Value = Expand(e.Value, unit) }).ToList(),
        },
        _ => value,
    };

    private static string ExpandString(string text, SourceLocation at, UnitNameParts unit)
    {
        try
        {
            return Specifiers.Expand(text, unit);
        }
        catch (SpecifierException e)
        {
            // The column of the '%' itself when the string is written on one line after its opening quote.
            var where = at.Line > 0 ? at with { Column = at.Column + 1 + e.Offset } : at;
            throw new LocatedSpecifierException(where, e);
        }
    }

    private sealed class LocatedSpecifierException(SourceLocation at, SpecifierException inner) : Exception(inner.Message, inner)
    {
        public SourceLocation At { get; } = at;
        public SpecifierException Inner { get; } = inner;
    }
}
