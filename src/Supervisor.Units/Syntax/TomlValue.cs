namespace Supervisor.Units.Syntax;

/// <summary>
/// A TOML value with the place it was written. The unit parser works on these, not on Tomlyn's
/// syntax tree, so that drop-ins can be merged (values from several files in one list) and so
/// that only <see cref="UnitFileReader"/> knows which TOML library is in use.
/// </summary>
public abstract record TomlValue(SourceLocation Location)
{
    /// <summary>The TOML type name a person would use in "expected X, got Y".</summary>
    public abstract string TypeName { get; }
}

public sealed record TomlString(SourceLocation Location, string Value) : TomlValue(Location)
{
    public override string TypeName => "string";
}

public sealed record TomlInteger(SourceLocation Location, long Value) : TomlValue(Location)
{
    public override string TypeName => "integer";
}

public sealed record TomlFloat(SourceLocation Location, double Value) : TomlValue(Location)
{
    public override string TypeName => "float";
}

public sealed record TomlBoolean(SourceLocation Location, bool Value) : TomlValue(Location)
{
    public override string TypeName => "boolean";
}

public sealed record TomlDateTime(SourceLocation Location, string Text) : TomlValue(Location)
{
    public override string TypeName => "date-time";
}

public sealed record TomlArray(SourceLocation Location, IReadOnlyList<TomlValue> Items) : TomlValue(Location)
{
    public override string TypeName => "array";
}

/// <summary>An inline table, or a dotted key's implicit table. Keys keep their written order.</summary>
public sealed record TomlTable(SourceLocation Location, IReadOnlyList<TomlEntry> Entries) : TomlValue(Location)
{
    public override string TypeName => "table";
}

/// <summary>One <c>key = value</c> as written, with where the key stands.</summary>
public sealed record TomlEntry(string Key, SourceLocation KeyLocation, TomlValue Value);

/// <summary>A <c>[Section]</c> of a unit file and its entries.</summary>
public sealed record TomlSection(string Name, SourceLocation Location, IReadOnlyList<TomlEntry> Entries);

/// <summary>A whole unit file: its sections in written order; keys before any header are in a section named "".</summary>
public sealed record TomlDocument(string Path, IReadOnlyList<TomlSection> Sections);
