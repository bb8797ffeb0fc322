using Supervisor.Units.Keys;
using Supervisor.Units.Model;
using Supervisor.Units.Syntax;
using Supervisor.Units.Values;

namespace Supervisor.Units;

/// <summary>A validated unit and where each of its effective keys was written (for later diagnostics).</summary>
public sealed record ParsedUnit(UnitDefinition Definition, IReadOnlyDictionary<string, TomlValue> Values)
{
    /// <summary>Where "Section.Key" was set, or the unit file itself.</summary>
    public SourceLocation LocationOf(string section, string key) =>
        Values.TryGetValue(section + "." + key, out var v) ? v.Location : SourceLocation.File(Definition.Sources[0]);
}

/// <summary>
/// Turns a unit file and its drop-ins (already read into <see cref="TomlDocument"/>s) into a
/// <see cref="UnitDefinition"/>: unknown sections and keys, wrong types and bad values, and
/// keys that contradict each other all become diagnostics; every problem is reported, not just the first.
/// </summary>
public static class UnitParser
{
    public const string AppendKey = "append";

    public static ParsedUnit? Parse(string name, UnitKind kind, IReadOnlyList<TomlDocument> documents, ICollection<Diagnostic> diagnostics)
    {
        int errorsBefore = Errors(diagnostics);
        var effective = new Dictionary<string, TomlValue>(StringComparer.Ordinal);
        bool sawServiceHeader = false;
        for (int i = 0; i < documents.Count; i++)
        {
            var initOnly = new List<(string, TomlEntry)>();
            foreach (var section in documents[i].Sections)
                sawServiceHeader |= CollectSection(name, kind, section, isDropIn: i > 0, effective, diagnostics, initOnly);
            if (InitOnlyKeys.Warning(name, initOnly) is { } warning) diagnostics.Add(warning);
        }
        Templates.SpecifierExpansion.Apply(name, kind, effective, diagnostics);

        var unit = Apply(new UnitDefinition
        {
            Name = name,
            Kind = kind,
            Sources = new ValueList<string>(documents.Select(d => d.Path)),
        }, effective, diagnostics);

        // Each step runs only on what the one before found valid, so that one mistake gives one error.
        var parsed = new ParsedUnit(unit, effective);
        if (Errors(diagnostics) == errorsBefore)
            CheckConsistency(parsed, sawServiceHeader, diagnostics);
        if (Errors(diagnostics) == errorsBefore)
            PlanLimitChecks.Check(parsed, diagnostics);
        if (Errors(diagnostics) == errorsBefore)
            parsed = ExecutableSearch.Resolve(parsed, diagnostics);
        return Errors(diagnostics) > errorsBefore ? null : parsed;
    }

    private static int Errors(ICollection<Diagnostic> diagnostics) => diagnostics.Count(d => d.Severity == Severity.Error);

    /// <summary>
    /// Records the section's keys as the effective values (a drop-in's merged over the ones
    /// before it); reports keys outside any section, unknown sections and unknown keys, and
    /// collects systemd's init-only keys (<see cref="InitOnlyKeys"/>) for one warning per file.
    /// Returns whether this is a [Service] section.
    /// </summary>
    private static bool CollectSection(string name, UnitKind kind, TomlSection section, bool isDropIn,
        Dictionary<string, TomlValue> effective, ICollection<Diagnostic> diagnostics, List<(string, TomlEntry)> initOnly)
    {
        var sections = KeyTable.SectionsFor(kind);
        if (section.Name.Length == 0)
        {
            foreach (var e in section.Entries)
            {
                var home = KeyTable.All.FirstOrDefault(k => k.Name == e.Key && sections.Contains(k.Section));
                diagnostics.Add(new Diagnostic(Severity.Error, e.KeyLocation, name, null, e.Key,
                    $"key '{e.Key}' is outside any section",
                    home is null ? "put it under a [Section] header" : $"put it under [{home.Section}]"));
            }
            return false;
        }
        if (section.Name == InitOnlyKeys.InstallSection)
        {
            initOnly.AddRange(section.Entries.Select(e => (section.Name, e)));
            return false;
        }
        if (!sections.Contains(section.Name))
        {
            string message = kind == UnitKind.Slice && KeyTable.Sections.Contains(section.Name)
                ? $"[{section.Name}] is not allowed in a slice; slices have only [Unit] and [Resources]"
                : kind == UnitKind.Target && KeyTable.Sections.Contains(section.Name)
                ? $"[{section.Name}] is not allowed in a target; targets have only [Unit] (they run nothing)"
                : $"unknown section [{section.Name}]";
            diagnostics.Add(new Diagnostic(Severity.Error, section.Location, name, section.Name, null, message,
                Suggest.Hint(section.Name, sections)));
            return false;
        }
        foreach (var entry in section.Entries)
        {
            var spec = KeyTable.Find(section.Name, entry.Key);
            if (spec is null)
            {
                if (InitOnlyKeys.IsInitOnly(section.Name, entry.Key)) initOnly.Add((section.Name, entry));
                else diagnostics.Add(UnknownKey(name, kind, section.Name, entry));
                continue;
            }
            var id = section.Name + "." + entry.Key;
            effective[id] = isDropIn && effective.TryGetValue(id, out var earlier)
                ? MergeDropIn(spec, earlier, entry.Value)
                : StripAppend(spec, entry.Value);
        }
        return section.Name == KeyTable.ServiceSection;
    }

    /// <summary>Applies the effective values in table order, not file order, so the result does not depend on how keys were arranged.</summary>
    private static UnitDefinition Apply(UnitDefinition unit, Dictionary<string, TomlValue> effective, ICollection<Diagnostic> diagnostics)
    {
        foreach (var spec in KeyTable.All)
        {
            if (!effective.TryGetValue(spec.Section + "." + spec.Name, out var value)) continue;
            try
            {
                unit = spec.Apply(unit, value);
            }
            catch (UnitValueException e)
            {
                diagnostics.Add(new Diagnostic(Severity.Error, value.Location, unit.Name, spec.Section, spec.Name,
                    $"[{spec.Section}] {spec.Name}: {e.Message}", e.Hint));
            }
        }
        return unit;
    }

    private static Diagnostic UnknownKey(string unit, UnitKind kind, string section, TomlEntry entry)
    {
        // A key that exists, but in another section, is the most common slip: say where it goes.
        var elsewhere = KeyTable.All.FirstOrDefault(k => k.Name == entry.Key && KeyTable.SectionsFor(kind).Contains(k.Section));
        if (elsewhere is not null)
            return new Diagnostic(Severity.Error, entry.KeyLocation, unit, section, entry.Key,
                $"key '{entry.Key}' does not belong in [{section}]", $"move it to [{elsewhere.Section}]");
        if (kind is UnitKind.Slice or UnitKind.Target && KeyTable.All.Any(k => k.Name == entry.Key))
            return new Diagnostic(Severity.Error, entry.KeyLocation, unit, section, entry.Key,
                $"key '{entry.Key}' is not allowed in a {(kind == UnitKind.Slice ? "slice" : "target")}");
        return new Diagnostic(Severity.Error, entry.KeyLocation, unit, section, entry.Key,
            $"unknown key '{entry.Key}' in [{section}]",
            Suggest.Hint(entry.Key, KeyTable.InSection(section).Select(k => k.Name)));
    }

    /// <summary>
    /// The drop-in rule (documented in the README): a later value replaces the earlier one, except
    /// that a list written as <c>{ append = [...] }</c> is added to the end, and tables
    /// (Environment, IO limits) are merged key by key with later keys winning.
    /// </summary>
    private static TomlValue MergeDropIn(KeySpec spec, TomlValue earlier, TomlValue later)
    {
        if (spec.Merge == MergeRule.List && IsAppend(later, out var items) && earlier is TomlArray before)
            return new TomlArray(later.Location, [.. before.Items, .. items.Items]);
        if (spec.Merge == MergeRule.Table && earlier is TomlTable a && later is TomlTable b)
        {
            // A set, not a scan of b per entry of a: two tables of 20 000 keys took seconds.
            var replaced = b.Entries.Select(n => n.Key).ToHashSet(StringComparer.Ordinal);
            var merged = a.Entries.Where(e => !replaced.Contains(e.Key)).Concat(b.Entries).ToList();
            return new TomlTable(later.Location, merged);
        }
        return StripAppend(spec, later);
    }

    private static TomlValue StripAppend(KeySpec spec, TomlValue value) =>
        spec.Merge == MergeRule.List && IsAppend(value, out var items) ? items : value;

    private static bool IsAppend(TomlValue value, out TomlArray items)
    {
        if (value is TomlTable { Entries: [{ Key: AppendKey, Value: TomlArray a }] })
        {
            items = a;
            return true;
        }
        items = null!;
        return false;
    }

    /// <summary>Rules between keys of one unit. Errors here name the key that has to change.</summary>
    private static void CheckConsistency(ParsedUnit parsed, bool sawServiceHeader, ICollection<Diagnostic> diagnostics)
    {
        var u = parsed.Definition;
        void Error(string section, string key, string message, string? hint = null) =>
            diagnostics.Add(new Diagnostic(Severity.Error, parsed.LocationOf(section, key), u.Name, section, key, message, hint));
        void Warn(string section, string key, string message) =>
            diagnostics.Add(new Diagnostic(Severity.Warning, parsed.LocationOf(section, key), u.Name, section, key, message));

        if (u.Kind == UnitKind.Service && u.Service.ExecStart is null)
        {
            diagnostics.Add(new Diagnostic(Severity.Error, SourceLocation.File(u.Sources[0]), u.Name, KeyTable.ServiceSection, "ExecStart",
                sawServiceHeader ? "[Service] has no ExecStart" : "missing [Service] section with ExecStart",
                "add ExecStart = [\"/path/to/program\", \"arg\"]"));
        }

        var s = u.Service;
        var x = u.Sandbox;
        var r = u.Resources;
        if (s.PIDFile is not null && s.Type != ServiceType.Forking)
            Warn("Service", "PIDFile", "[Service] PIDFile is only used with Type = \"forking\"; ignoring it");
        if (s.RemainAfterExit && s.Type != ServiceType.Oneshot)
            Warn("Service", "RemainAfterExit", "[Service] RemainAfterExit only matters for Type = \"oneshot\"");
        if (s.Type == ServiceType.Oneshot && s.Restart is not (RestartPolicy.No or RestartPolicy.OnFailure or RestartPolicy.OnAbnormal or RestartPolicy.OnWatchdog or RestartPolicy.OnAbort))
            Error("Service", "Restart", $"[Service] Restart: Type = \"oneshot\" cannot be restarted after success; use \"no\" or \"on-failure\"");
        if (s.RestartSteps > 0 && s.RestartMaxDelaySec.IsInfinity)
            Error("Service", "RestartSteps", "[Service] RestartSteps needs RestartMaxDelaySec, the delay the backoff grows to");
        if (!s.RestartMaxDelaySec.IsInfinity && s.RestartMaxDelaySec.Microseconds < s.RestartSec.Microseconds)
            Error("Service", "RestartMaxDelaySec", $"[Service] RestartMaxDelaySec ({s.RestartMaxDelaySec}) is shorter than RestartSec ({s.RestartSec})");
        if (s.Group is not null && s.User is null)
            Warn("Service", "Group", "[Service] Group without User: the service runs as root with this group");

        if (r.CPUQuotaPeriodSec.Microseconds < 1000 || r.CPUQuotaPeriodSec.Microseconds > 1_000_000)
            Error("Resources", "CPUQuotaPeriodSec", $"[Resources] CPUQuotaPeriodSec: expected a duration from 1ms to 1s, got \"{r.CPUQuotaPeriodSec}\"");
        if (r.MemoryMax is { IsInfinity: false } max && r.MemoryMax.Value.Bytes < 4096)
            Error("Resources", "MemoryMax", $"[Resources] MemoryMax: {max} is below one page (4K); no process can run in it");
        if (r.MemoryLow is { IsInfinity: false } low && r.MemoryMax is { IsInfinity: false } m && low.Bytes > m.Bytes)
            Warn("Resources", "MemoryLow", $"[Resources] MemoryLow ({low}) is above MemoryMax ({m})");

        if (x.Hostname is not null && !x.Namespaces.HasFlag(Namespaces.Uts) && !x.ProtectHostname)
            Error("Sandbox", "Hostname", "[Sandbox] Hostname needs its own uts namespace, or it would rename the host", "add \"uts\" to Namespaces");
        if (x.NetworkNamespacePath is not null && x.Namespaces.HasFlag(Namespaces.Net))
            Error("Sandbox", "NetworkNamespacePath", "[Sandbox] NetworkNamespacePath joins an existing network namespace; it cannot be combined with \"net\" in Namespaces");
        if (x.CapabilityBoundingSet is { } bounding && x.AmbientCapabilities.Count > 0)
        {
            var mask = bounding.Mask(Capabilities.Last);
            foreach (var c in x.AmbientCapabilities)
                if ((mask & (1UL << c)) == 0)
                    Error("Sandbox", "AmbientCapabilities", $"[Sandbox] AmbientCapabilities: {Capabilities.Name(c)} is not in CapabilityBoundingSet, so it cannot be kept");
        }
        if (x.SystemCallErrorNumber is not null && x.SystemCallFilter is null && x.SeccompProfile is null)
            Warn("Sandbox", "SystemCallErrorNumber", "[Sandbox] SystemCallErrorNumber has no effect without SystemCallFilter");
        if (x.SeccompProfile is not null && x.SystemCallFilter is not null)
            Error("Sandbox", "SeccompProfile", "[Sandbox] SeccompProfile and SystemCallFilter cannot both be set; choose one filter");
        foreach (var (message, hint) in LearnModeProblems(x)) Error("Sandbox", "SystemCallFilterMode", message, hint);
        KernelSurfaceChecks.Check(x, (key, message, hint) => Error("Sandbox", key, message, hint), (key, message) => Warn("Sandbox", key, message));
        foreach (var (section, key, message, error, hint) in KeyTable.IdentityConsistency(u).Concat(KeyTable.ExecConsistency(u)).Concat(KeyTable.ConditionConsistency(u)).Concat(KeyTable.ProcessConsistency(u)).Concat(KeyTable.LandlockConsistency(u)).Concat(KeyTable.HealthConsistency(u)))
            if (error) Error(section, key, message, hint); else Warn(section, key, message);
        KeyTable.CheckNamespaceKeys(parsed, (key, message, hint) => Error("Sandbox", key, message, hint), (key, message) => Warn("Sandbox", key, message));
    }

    /// <summary>SystemCallFilterMode = "learn" needs an allow list (or none) and no SeccompProfile.</summary>
    private static IEnumerable<(string Message, string? Hint)> LearnModeProblems(SandboxSection x)
    {
        if (x.SystemCallFilterMode != SyscallFilterMode.Learn) yield break;
        if (x.SystemCallFilter is { IsAllowList: false })
            yield return ("[Sandbox] SystemCallFilterMode = \"learn\" records the calls outside an allow list; SystemCallFilter is a deny list (\"~\")",
                "learn with an allow list (or without SystemCallFilter: every call beyond @default is recorded)");
        if (x.SeccompProfile is not null)
            yield return ("[Sandbox] SystemCallFilterMode = \"learn\" cannot be combined with SeccompProfile", null);
    }
}
