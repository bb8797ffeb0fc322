using Supervisor.Cgroups;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Credentials;
using Supervisor.Sandbox.Compiler;
using Supervisor.Units;
using Supervisor.Units.Model;

namespace Supervisor.Runtime.Reconcile;

/// <summary>The units directory as last read: what is declared, by name (slices included, for the units' slice chains).</summary>
/// <param name="host">What this supervisor holds (its capabilities); null: detected from this process.</param>
public sealed class DeclaredUnits(string directory, ICgroupDriver driver, HostFacts? host = null)
{
    private readonly HostFacts _host = host ?? HostFacts.Detect();

    private volatile IReadOnlyDictionary<string, UnitDefinition> _definitions = new Dictionary<string, UnitDefinition>();

    public string Directory { get; } = directory;

    public UnitDefinition? Lookup(string name) => _definitions.GetValueOrDefault(name);

    // Template instances asked for by `start NAME@X`: loaded on every read while their template exists.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _instances = new(StringComparer.Ordinal);

    /// <summary>
    /// Remembers an instance a start asked for, when its template "NAME@.toml" is in the units
    /// directory; false when there is no such template. It is loaded from the next read on, and
    /// forgotten once its template is gone (the instance is then a removed unit, and stops).
    /// </summary>
    public bool RequestInstance(string name)
    {
        if (Units.Templates.UnitNameParts.TemplateOf(name) is not { } template || !Units.Templates.UnitNameParts.IsInstance(name)
            || !File.Exists(Path.Combine(Directory, template + UnitLoader.UnitSuffix)))
            return false;
        _instances[name] = true;
        return true;
    }

    /// <summary>Reads the directory, checks [Resources] against this host's cgroups, the capabilities against the supervisor's own and the Landlock keys against the kernel's ABI; nothing is remembered.</summary>
    public UnitSet Read()
    {
        foreach (var name in _instances.Keys)
            if (!File.Exists(Path.Combine(Directory, Units.Templates.UnitNameParts.TemplateOf(name)! + UnitLoader.UnitSuffix)))
                _instances.TryRemove(name, out _);
        var set = UnitLoader.LoadDirectory(Directory, new LoadOptions { Instances = _instances.Keys.ToHashSet(StringComparer.Ordinal) });
        return Planning.HostLandlockCheck.Apply(HostCapabilityCheck.Apply(HostResourceCheck.Apply(set, driver), _host), _host);
    }

    /// <summary>Makes <paramref name="set"/> what is declared from now on.</summary>
    public void Accept(UnitSet set) =>
        _definitions = set.Units.ToDictionary(kv => kv.Key, kv => kv.Value.Definition, StringComparer.Ordinal);
}
