using Supervisor.Import.Ini;
using Supervisor.Units.Keys;
using Supervisor.Units.Model;

namespace Supervisor.Import.Translate;

/// <summary>One key of the TOML unit: its value (a <see cref="Plain"/> object) and the assignments it came from.</summary>
public sealed record Entry(KeySpec Spec, object Value, IReadOnlyList<Contribution> Sources);

/// <summary>A systemd unit translated: the TOML unit it becomes, and everything the translation reports about it.</summary>
public sealed class Candidate(SystemdUnit source, string name, UnitKind kind, Report report)
{
    public SystemdUnit Source { get; } = source;

    /// <summary>Supervisor's unit name: redis-server for redis-server.service, postgresql@ for postgresql@.service, a.slice for a.slice.</summary>
    public string Name { get; } = name;

    public UnitKind Kind { get; } = kind;
    public List<Entry> Entries { get; } = [];
    public Report Report { get; } = report;

    /// <summary>Why the unit cannot be written at all (no ExecStart could be carried …), or null.</summary>
    public string? Unwritable { get; set; }

    public string FileName => Name + ".toml";

    public IEnumerable<NotCarried> NotCarried => Report.NotCarried;

    /// <summary>Whether something with an effect was left out (what only systemd as PID 1 uses does not count).</summary>
    public bool LostMeaning => Unwritable is not null || Report.NotCarried.Any(n => n.Why.ChangesMeaning());
}
