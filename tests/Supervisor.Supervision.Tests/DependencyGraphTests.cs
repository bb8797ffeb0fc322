using Supervisor.Linux;
using Supervisor.Units.Model;

namespace Supervisor.Supervision.Tests;

public class DependencyGraphTests
{
    private static UnitDefinition U(string name, string[]? requires = null, string[]? wants = null, string[]? after = null,
        string[]? before = null, string[]? bindsTo = null, string[]? partOf = null, string[]? conflicts = null) => new()
    {
        Name = name,
        Kind = UnitKind.Service,
        Sources = new ValueList<string>([name + ".toml"]),
        Unit = new UnitSection
        {
            Requires = requires ?? [], Wants = wants ?? [], After = after ?? [], Before = before ?? [],
            BindsTo = bindsTo ?? [], PartOf = partOf ?? [], Conflicts = conflicts ?? [],
        },
    };

    [Fact]
    public void Independent_units_start_in_one_parallel_wave_and_ordering_makes_waves()
    {
        var g = new DependencyGraph([U("db"), U("cache"), U("web", after: ["db", "cache"]), U("proxy", after: ["web"]), U("batch")]);
        Assert.Equal([["batch", "cache", "db"], ["web"], ["proxy"]], g.StartWaves(["db", "cache", "web", "proxy", "batch"]));
        Assert.Equal([["proxy"], ["web"], ["batch", "cache", "db"]], g.StopWaves(["db", "cache", "web", "proxy", "batch"]));
    }

    [Fact]
    public void Before_is_the_reverse_of_after()
    {
        var g = new DependencyGraph([U("migrate", before: ["web"]), U("web")]);
        Assert.Equal([["migrate"], ["web"]], g.StartWaves(["web", "migrate"]));
    }

    [Fact]
    public void Requires_alone_does_not_order()
    {
        var g = new DependencyGraph([U("db"), U("web", requires: ["db"])]);
        Assert.Equal([["db", "web"]], g.StartWaves(["db", "web"]));
    }

    [Fact]
    public void Starting_a_unit_pulls_in_what_it_requires_wants_and_binds_to()
    {
        var g = new DependencyGraph([U("db"), U("log"), U("metrics"), U("web", requires: ["db"], wants: ["metrics"], bindsTo: ["log"]), U("other")]);
        Assert.Equal(["db", "log", "metrics", "web"], g.StartClosure(["web"]));
    }

    [Fact]
    public void Requested_stop_propagates_to_Requires_PartOf_and_BindsTo_transitively()
    {
        var g = new DependencyGraph([U("db"), U("web", requires: ["db"]), U("proxy", requires: ["web"]), U("exporter", partOf: ["db"]), U("sidecar", bindsTo: ["db"]), U("friend", wants: ["db"])]);
        Assert.Equal(["exporter", "proxy", "sidecar", "web"], g.StopPropagation("db", requested: true));
    }

    [Fact]
    public void A_crash_propagates_only_through_BindsTo()
    {
        var g = new DependencyGraph([U("db"), U("web", requires: ["db"]), U("sidecar", bindsTo: ["db"]), U("sidecar-helper", requires: ["sidecar"])]);
        // db died by itself: web (Requires) stays, sidecar (BindsTo) stops, and what requires sidecar stops with it.
        Assert.Equal(["sidecar", "sidecar-helper"], g.StopPropagation("db", requested: false));
    }

    [Fact]
    public void Conflicts_work_both_ways_and_PartOf_propagates_restarts()
    {
        var g = new DependencyGraph([U("a", conflicts: ["b"]), U("b"), U("c", conflicts: ["a"]), U("d", partOf: ["a"])]);
        Assert.Equal(["b", "c"], g.Conflicting("a"));
        Assert.Equal(["a"], g.Conflicting("b"));
        Assert.Equal(["d"], g.RestartPropagation("a"));
        Assert.Empty(g.HardDependencies("a"));
    }
}
