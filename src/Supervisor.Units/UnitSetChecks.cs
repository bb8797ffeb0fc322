using Supervisor.Units.Model;
using Supervisor.Units.Syntax;

namespace Supervisor.Units;

/// <summary>Rules between units, checked once every file is parsed: a unit that breaks one is moved to the bad units.</summary>
internal static class UnitSetChecks
{
    /// <summary>
    /// Two services whose names map to one cgroup directory would share it, and starting (or
    /// stopping) one kills the other: "web" and "web.service" both run in web.service. Each unit
    /// involved is refused, naming the others. Log files (STATE/logs/NAME.log) and notify sockets
    /// (RUNTIME/notify/NAME) are named after the unit itself, which no two units share.
    /// </summary>
    internal static void CheckCgroupCollisions(Dictionary<string, ParsedUnit> units, Dictionary<string, string> bad, List<Diagnostic> diagnostics)
    {
        var byCgroup = units.Values
            .Where(p => p.Definition.Kind == UnitKind.Service)
            .GroupBy(p => UnitCgroup.RelativePath(p.Definition.Service.Slice, UnitCgroup.Leaf(p.Definition.Name)), StringComparer.Ordinal)
            .Where(g => g.Count() > 1)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToList();
        foreach (var shared in byCgroup)
        {
            var owners = shared.OrderBy(p => p.Definition.Name, StringComparer.Ordinal).Select(p => p.Definition).ToList();
            var who = string.Join(" and ", owners.Select(u => $"'{u.Name}' ({u.Sources[0]})"));
            foreach (var unit in owners)
            {
                diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(unit.Sources[0]), unit.Name, null, null,
                    $"units {who} would run in the same cgroup '{shared.Key}', where starting one kills the other", "rename one of the files"));
                bad[unit.Name] = unit.Sources[0];
                units.Remove(unit.Name);
            }
        }
    }

    /// <summary>Every unit name <paramref name="u"/> names where <see cref="CheckReferences"/> looks: its dependencies and its slice.</summary>
    internal static IEnumerable<string> ReferenceTargets(UnitDefinition u)
    {
        foreach (var (_, list, _) in ReferenceLists(u))
            foreach (var target in list) yield return target;
        if (u.Kind == UnitKind.Service && u.Service.Slice is { } slice) yield return slice;
    }

    private static (string Key, ValueList<string> List, bool Required)[] ReferenceLists(UnitDefinition u) =>
    [
        ("Requires", u.Unit.Requires, true), ("BindsTo", u.Unit.BindsTo, true), ("PartOf", u.Unit.PartOf, true), ("Requisite", u.Unit.Requisite, true),
        ("Wants", u.Unit.Wants, false), ("After", u.Unit.After, false), ("Before", u.Unit.Before, false),
        ("Conflicts", u.Unit.Conflicts, false), ("OnFailure", u.Unit.OnFailure, true), ("OnSuccess", u.Unit.OnSuccess, true),
    ];

    /// <summary>
    /// Every name a unit refers to exists (a missing soft dependency is a warning, a missing hard
    /// one or slice makes the unit bad). <paramref name="only"/>: the units to check (the rest of
    /// <paramref name="units"/> still counts as existing); null: all. "Did you mean" picks the
    /// nearest name, the alphabetically first of equally near ones.
    /// </summary>
    internal static void CheckReferences(Dictionary<string, ParsedUnit> units, Dictionary<string, string> bad, HashSet<string> known,
        List<Diagnostic> diagnostics, IEnumerable<string>? only = null)
    {
        bool Exists(string n) => units.ContainsKey(n) || bad.ContainsKey(n) || known.Contains(n);
        List<string>? allNames = null;
        List<string> All() => allNames ??= known.Concat(units.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
        var which = only is null ? units.ToList() : only.Where(units.ContainsKey).Select(n => KeyValuePair.Create(n, units[n])).ToList();
        foreach (var (name, parsed) in which)
        {
            var u = parsed.Definition;
            bool broken = false;
            foreach (var (key, list, required) in ReferenceLists(u))
            {
                for (int i = 0; i < list.Count; i++)
                {
                    var target = list[i];
                    var at = parsed.Values.TryGetValue("Unit." + key, out var v) && v is TomlArray a && i < a.Items.Count
                        ? a.Items[i].Location : parsed.LocationOf("Unit", key);
                    if (target == name)
                    {
                        diagnostics.Add(new Diagnostic(Severity.Error, at, name, "Unit", key, $"[Unit] {key}: a unit cannot depend on itself"));
                        broken = true;
                    }
                    else if (!Exists(target))
                    {
                        var message = $"[Unit] {key}: unit '{target}' does not exist";
                        var hint = Values.Suggest.Hint(target, All());
                        if (required)
                        {
                            diagnostics.Add(new Diagnostic(Severity.Error, at, name, "Unit", key, message, hint));
                            broken = true;
                        }
                        else
                        {
                            diagnostics.Add(new Diagnostic(Severity.Warning, at, name, "Unit", key, message + "; ignoring it", hint));
                        }
                    }
                }
            }
            if (u.Kind == UnitKind.Service && u.Service.Slice is { } slice && !Exists(slice))
            {
                var near = Values.Suggest.Nearest(slice, All().Where(n => n.EndsWith(".slice", StringComparison.Ordinal)));
                diagnostics.Add(new Diagnostic(Severity.Error, parsed.LocationOf("Service", "Slice"), name, "Service", "Slice",
                    $"[Service] Slice: slice '{slice}' is not declared",
                    near is not null ? $"did you mean '{near[..^".slice".Length]}'?" : $"create {slice}{UnitLoader.UnitSuffix}"));
                broken = true;
            }
            if (broken)
            {
                units.Remove(name);
                bad[name] = u.Sources[0];
            }
        }
    }

    /// <summary>
    /// After/Before must form no cycle: a unit cannot start after itself. Each cycle is reported
    /// once, with its path (a → b → a), on every unit in it.
    /// </summary>
    internal static void CheckOrderingCycles(Dictionary<string, ParsedUnit> units, Dictionary<string, string> bad, List<Diagnostic> diagnostics)
    {
        // Edge a → b: a starts after b.
        var after = units.Keys.ToDictionary(n => n, _ => new SortedSet<string>(StringComparer.Ordinal), StringComparer.Ordinal);
        foreach (var (name, parsed) in units)
        {
            foreach (var b in parsed.Definition.Unit.After)
                if (units.ContainsKey(b)) after[name].Add(b);
            foreach (var b in parsed.Definition.Unit.Before)
                if (units.ContainsKey(b)) after[b].Add(name);
            foreach (var b in Targets.ImplicitAfter(parsed.Definition, n => units.GetValueOrDefault(n)?.Definition))
                after[name].Add(b);
        }
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1 = on stack, 2 = done
        var stack = new List<string>();
        var inCycle = new List<List<string>>();
        void Visit(string n)
        {
            state[n] = 1;
            stack.Add(n);
            foreach (var m in after[n])
            {
                if (state.GetValueOrDefault(m) == 1)
                    inCycle.Add([.. stack[stack.IndexOf(m)..], m]);
                else if (state.GetValueOrDefault(m) == 0)
                    Visit(m);
            }
            stack.RemoveAt(stack.Count - 1);
            state[n] = 2;
        }
        foreach (var n in after.Keys.Order(StringComparer.Ordinal))
            if (state.GetValueOrDefault(n) == 0) Visit(n);

        foreach (var cycle in inCycle)
        {
            var path = string.Join(" → ", cycle);
            foreach (var n in cycle.Distinct())
            {
                if (!units.TryGetValue(n, out var parsed)) continue;
                var key = parsed.Values.ContainsKey("Unit.After") ? "After" : "Before";
                diagnostics.Add(new Diagnostic(Severity.Error, parsed.LocationOf("Unit", key), n, "Unit", key,
                    $"[Unit] ordering cycle: {path} (each starts after the next)"));
                units.Remove(n);
                bad[n] = parsed.Definition.Sources[0];
            }
        }
    }

    /// <summary>
    /// Socket units and the services they serve: a socket unit listens on something, its service
    /// exists (systemd refuses a socket whose service is missing), and a service's Sockets= names
    /// socket units that exist. A unit that breaks one is moved to the bad units.
    /// </summary>
    internal static void CheckSockets(Dictionary<string, ParsedUnit> units, Dictionary<string, string> bad, IReadOnlySet<string> templates, List<Diagnostic> diagnostics)
    {
        void Refuse(ParsedUnit parsed, string section, string key, string message, string? hint = null)
        {
            var u = parsed.Definition;
            diagnostics.Add(new Diagnostic(Severity.Error, parsed.LocationOf(section, key), u.Name, section, key, message, hint));
            units.Remove(u.Name);
            bad[u.Name] = u.Sources[0];
        }
        foreach (var (name, parsed) in units.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList())
        {
            var u = parsed.Definition;
            if (u.Kind == UnitKind.Socket)
            {
                if (!u.Socket.Addresses.Any())
                {
                    Refuse(parsed, "Socket", "ListenStream", "[Socket] a socket unit needs at least one ListenStream, ListenDatagram or ListenSequentialPacket");
                    continue;
                }
                if (u.Socket.Accept)
                {
                    if (AcceptRefusal(u, templates) is { } refusal) Refuse(parsed, "Socket", refusal.Key, refusal.Message, refusal.Hint);
                    continue;
                }
                var service = SocketUnits.ServiceOf(u);
                if (!units.TryGetValue(service, out var target) && !bad.ContainsKey(service))
                    Refuse(parsed, "Socket", "Service", $"[Socket] Service: the service '{service}' this socket starts does not exist",
                        u.Socket.Service is null ? $"create {service}{UnitLoader.UnitSuffix}, or name the service with Service =" : null);
                else if (target is not null && target.Definition.Kind != UnitKind.Service)
                    Refuse(parsed, "Socket", "Service", $"[Socket] Service: '{service}' is not a service");
            }
            else if (u.Kind == UnitKind.Service)
            {
                foreach (var socket in u.Service.Sockets)
                {
                    if (units.TryGetValue(socket, out var named) && named.Definition.Socket.Accept)
                    {
                        Refuse(parsed, "Service", "Sockets", $"[Service] Sockets: '{socket}' has Accept=yes: it hands each connection to an instance of its template, not its listening sockets to a service");
                        break;
                    }
                    if (units.ContainsKey(socket) || bad.ContainsKey(socket)) continue;
                    Refuse(parsed, "Service", "Sockets", $"[Service] Sockets: socket unit '{socket}' does not exist",
                        Values.Suggest.Hint(socket, units.Keys.Where(n => n.EndsWith(SocketUnits.Suffix, StringComparison.Ordinal))));
                    break;
                }
            }
        }
    }

    /// <summary>systemd's socket_verify for Accept=yes: stream or sequential-packet sockets only, no Service=, and a template to instantiate.</summary>
    private static (string Key, string Message, string? Hint)? AcceptRefusal(UnitDefinition u, IReadOnlySet<string> templates)
    {
        if (u.Socket.ListenDatagram.Count > 0)
            return ("ListenDatagram", "[Socket] ListenDatagram cannot be used with Accept=yes: a datagram socket has no connections to accept (systemd refuses it too)",
                "use ListenStream or ListenSequentialPacket, or Accept = false");
        if (u.Socket.Service is not null)
            return ("Service", "[Socket] Service cannot be used with Accept=yes: each connection starts an instance of the template of the socket's own name (systemd refuses it too)",
                $"remove Service, and name the template {SocketUnits.ServiceOf(u)}{UnitLoader.UnitSuffix}");
        var template = SocketUnits.ServiceOf(u);
        return templates.Contains(template) ? null
            : ("Accept", $"[Socket] Accept=yes starts an instance of the template '{template}' per connection, and there is no {template}{UnitLoader.UnitSuffix}",
                $"create {template}{UnitLoader.UnitSuffix} (an inetd-style service: StandardInput = \"socket\")");
    }
}
