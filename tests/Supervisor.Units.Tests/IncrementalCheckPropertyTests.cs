namespace Supervisor.Units.Tests;

/// <summary>
/// Issue #18: a change named by inotify is loaded without listing the directory, and the
/// set-wide checks (references, ordering cycles, cgroup collisions) run only around the units it
/// touches. The honest test of that is that it catches exactly what the full load catches: random
/// edit sequences, after each edit the incremental load and a fresh full load of the same
/// directory compared unit by unit and diagnostic by diagnostic.
/// </summary>
public sealed class IncrementalCheckPropertyTests : IDisposable
{
    private static readonly string[] Names = ["a", "b", "c", "d", "web", "web.service"];
    private readonly TempUnits _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Pick(Random r, params string[] from) => from[r.Next(from.Length)];

    /// <summary>A unit whose relations are drawn from the pool (with names that do not exist, near and far, and itself).</summary>
    private static string RandomUnit(Random r)
    {
        var text = new System.Text.StringBuilder();
        if (r.Next(3) == 0) return "[Service\nExecStart = 1\n"; // does not parse
        text.Append("[Unit]\n");
        foreach (var key in new[] { "After", "Before", "Wants", "Requires" })
            if (r.Next(4) == 0)
                text.Append($"{key} = [\"{Pick(r, [.. Names, "aa", "nothing", "wbe"])}\"]\n");
        text.Append("[Service]\nExecStart = [\"/bin/sleep\", \"infinity\"]\n");
        if (r.Next(4) == 0) text.Append($"Slice = \"{Pick(r, "app.slice", "ap.slice")}\"\n");
        text.Append($"[Resources]\nMemoryMax = \"{Pick(r, "64M", "96M", "lots")}\"\n");
        return text.ToString();
    }

    /// <summary>One random edit; the paths inotify would name.</summary>
    private string[] Edit(Random r)
    {
        var name = Pick(r, Names);
        var file = Path.Combine(_dir.Dir, name + ".toml");
        switch (r.Next(10))
        {
            case < 5:
                return [_dir.Write(name + ".toml", RandomUnit(r))];
            case 5 or 6:
                File.Delete(file);
                return [file];
            case 7:
                var slice = Path.Combine(_dir.Dir, "app.slice.toml");
                if (File.Exists(slice)) File.Delete(slice);
                else _dir.Write("app.slice.toml", "[Resources]\nMemoryMax = \"1G\"\n");
                return [slice];
            case 8:
                if (!File.Exists(file)) return [];
                return [_dir.Write(name + ".toml.d/10-memory.toml", $"[Resources]\nMemoryMax = \"{Pick(r, "32M", "x")}\"\n")];
            default:
                var template = Path.Combine(_dir.Dir, "t@.toml");
                if (File.Exists(template)) File.Delete(template);
                else _dir.Write("t@.toml", "[Service]\nExecStart = [\"/bin/sleep\", \"%i\"]\n");
                return [template];
        }
    }

    private static void AssertSame(UnitSet full, UnitSet incremental, string context)
    {
        Assert.True(full.Units.Keys.Order().SequenceEqual(incremental.Units.Keys.Order()), $"{context}: valid units differ");
        Assert.True(full.BadUnits.Keys.Order().SequenceEqual(incremental.BadUnits.Keys.Order()), $"{context}: bad units differ");
        foreach (var (name, parsed) in full.Units)
            Assert.True(parsed.Definition == incremental.Units[name].Definition, $"{context}: {name}'s definition differs");
        Assert.Equal(full.Diagnostics.Select(d => d.ToString()), incremental.Diagnostics.Select(d => d.ToString()));
    }

    [Fact]
    public void The_checks_run_around_a_change_find_exactly_what_the_full_load_finds()
    {
        int incrementalLoads = 0, edits = 0;
        for (int seed = 0; seed < 40; seed++)
        {
            foreach (var f in Directory.EnumerateFileSystemEntries(_dir.Dir))
                if (Directory.Exists(f)) Directory.Delete(f, true); else File.Delete(f);
            var r = new Random(seed);
            foreach (var name in Names.Take(4)) _dir.Write(name + ".toml", RandomUnit(r));
            var cache = new ParsedUnitCache();
            UnitLoader.LoadDirectory(_dir.Dir, new LoadOptions { RequireRootOwnership = false, Cache = cache });
            for (int step = 0; step < 25; step++)
            {
                var named = Edit(r);
                cache.Invalidate(named);
                var incremental = UnitLoader.LoadDirectory(_dir.Dir, new LoadOptions { RequireRootOwnership = false, Cache = cache, Changed = named });
                var full = UnitLoader.LoadDirectory(_dir.Dir, new LoadOptions { RequireRootOwnership = false });
                AssertSame(full, incremental, $"seed {seed} step {step} ({string.Join(", ", named.Select(Path.GetFileName))})");
                edits++;
                if (incremental.Changed is not null) incrementalLoads++;
            }
        }
        // Not vacuous: most edits took the incremental path (the rest: a template, a check that failed).
        Assert.True(incrementalLoads > edits / 4, $"only {incrementalLoads} of {edits} edits were loaded incrementally");
    }

    [Fact]
    public void An_edit_among_many_that_closes_an_ordering_cycle_or_breaks_a_reference_is_caught()
    {
        for (int i = 0; i < 200; i++) _dir.Write($"s{i}.toml", "[Service]\nExecStart = [\"/bin/sleep\", \"infinity\"]\n");
        _dir.Write("s1.toml", "[Unit]\nAfter = [\"s2\"]\n[Service]\nExecStart = [\"/bin/sleep\", \"infinity\"]\n");
        var cache = new ParsedUnitCache();
        UnitSet Change(string file, string text)
        {
            var path = _dir.Write(file, text);
            cache.Invalidate([path]);
            return UnitLoader.LoadDirectory(_dir.Dir, new LoadOptions { RequireRootOwnership = false, Cache = cache, Changed = [path] });
        }
        UnitLoader.LoadDirectory(_dir.Dir, new LoadOptions { RequireRootOwnership = false, Cache = cache });

        var quiet = Change("s7.toml", "[Service]\nExecStart = [\"/bin/sleep\", \"99\"]\n");
        Assert.Equal(["s7"], quiet.Changed!.Order());
        Assert.Equal(["s7"], cache.LastParsed);

        var cycle = Change("s2.toml", "[Unit]\nAfter = [\"s1\"]\n[Service]\nExecStart = [\"/bin/sleep\", \"infinity\"]\n");
        Assert.Contains("s1", cycle.BadUnits.Keys);
        Assert.Contains("s2", cycle.BadUnits.Keys);
        Assert.Contains(cycle.Diagnostics, d => d.Message.Contains("ordering cycle: s1 → s2 → s1"));

        var missing = Change("s2.toml", "[Unit]\nRequires = [\"s1000\"]\n[Service]\nExecStart = [\"/bin/sleep\", \"infinity\"]\n");
        Assert.Equal(["s2"], missing.BadUnits.Keys);
        Assert.Contains(missing.Diagnostics, d => d.Unit == "s2" && d.Message.Contains("unit 's1000' does not exist"));
        Assert.Contains("s1", missing.Units.Keys); // its cycle is gone with the edit

        var repaired = Change("s2.toml", "[Service]\nExecStart = [\"/bin/sleep\", \"infinity\"]\n");
        Assert.Empty(repaired.BadUnits);
        Assert.Equal(200, repaired.Units.Count);
    }
}
