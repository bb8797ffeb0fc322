using Supervisor.Import.Ini;
using Supervisor.Units;
using Supervisor.Units.Keys;

namespace Supervisor.Import.Translate;

/// <summary>One assignment's text as it reaches a Supervisor key (after a rename's conversion, if any).</summary>
public sealed record Contribution(IniAssignment Assignment, string Value);

/// <summary>Every assignment that sets one Supervisor key, in the order systemd applies them.</summary>
public sealed class KeyInput(KeySpec spec)
{
    public KeySpec Spec { get; } = spec;
    public List<Contribution> Contributions { get; } = [];
}

/// <summary>A key's value for the TOML unit (a <see cref="Plain"/> object; null: nothing to write, the default applies) and the assignments it came from.</summary>
public sealed record Converted(object? Value, IReadOnlyList<Contribution> Sources)
{
    public static readonly Converted Nothing = new(null, []);
}

/// <summary>The whole key cannot be carried: its value has no Supervisor form.</summary>
public sealed class NotCarriedException(IniAssignment at, Why why, string detail) : Exception(detail)
{
    public IniAssignment At { get; } = at;
    public Why Why { get; } = why;
}

/// <summary>systemd cannot parse this assignment and ignores it; the key keeps what came before it.</summary>
public sealed class SystemdIgnoresException(string detail) : Exception(detail);

/// <summary>What the translation of one unit reports: every directive not carried, and notes on what was carried in another form.</summary>
public sealed class Report
{
    public List<NotCarried> NotCarried { get; } = [];
    public List<string> Notes { get; } = [];

    public void Add(IniAssignment at, Why why, string detail) => NotCarried.Add(new NotCarried(at.Location, at.Section, at.Key, why, detail));

    public void Add(SourceLocation at, string section, string key, Why why, string detail) => NotCarried.Add(new NotCarried(at, section, key, why, detail));

    public void Note(IniAssignment at, string text) => Notes.Add($"{at.Location.Path}:{at.Location.Line}: {at.Key}: {text}");
}
