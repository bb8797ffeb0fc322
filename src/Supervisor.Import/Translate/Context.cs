using Supervisor.Import.Ini;

namespace Supervisor.Import.Translate;

/// <summary>What a converter may know besides its own key: the report, and the unit's other directives as systemd leaves them.</summary>
public sealed class Context(SystemdUnit unit, Report report)
{
    public SystemdUnit Unit { get; } = unit;
    public Report Report { get; } = report;

    /// <summary>
    /// The value a directive ends with after all assignments (an empty one resets it), or null
    /// when it is not set: for the few rules where one directive changes what another means.
    /// </summary>
    public string? Final(string key)
    {
        string? value = null;
        foreach (var a in Unit.Assignments)
            if (a.Key == key && a.Section != "Install")
                value = a.Value.Length == 0 ? null : a.Value;
        return value;
    }

    /// <summary>Whether any assignment of the key is left after the last reset.</summary>
    public bool IsSet(string key) => Final(key) is not null;
}
