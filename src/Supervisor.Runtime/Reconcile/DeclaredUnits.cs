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

    /// <summary>Reads the directory, checks [Resources] against this host's cgroups and the capabilities against the supervisor's own; nothing is remembered.</summary>
    public UnitSet Read() => HostCapabilityCheck.Apply(HostResourceCheck.Apply(UnitLoader.LoadDirectory(Directory), driver), _host);

    /// <summary>Makes <paramref name="set"/> what is declared from now on.</summary>
    public void Accept(UnitSet set) =>
        _definitions = set.Units.ToDictionary(kv => kv.Key, kv => kv.Value.Definition, StringComparer.Ordinal);
}
