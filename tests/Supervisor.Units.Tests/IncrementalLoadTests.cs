namespace Supervisor.Units.Tests;

/// <summary>
/// Issue #18: the daemon keeps its parses between loads (<see cref="ParsedUnitCache"/>); a change
/// re-parses the files inotify named and the units that depend on them, and nothing else.
/// </summary>
public sealed class IncrementalLoadTests : IDisposable
{
    private readonly TempUnits _dir = new();
    private readonly ParsedUnitCache _cache = new();

    public void Dispose() => _dir.Dispose();

    private static string Service(string memory = "64M", string? slice = null) =>
        $"[Service]\nExecStart = [\"/bin/sleep\", \"infinity\"]\n{(slice is null ? "" : $"Slice = \"{slice}\"\n")}[Resources]\nMemoryMax = \"{memory}\"\n";

    private UnitSet Load() => UnitLoader.LoadDirectory(_dir.Dir, new LoadOptions { RequireRootOwnership = false, Cache = _cache });

    /// <summary>Twenty units loaded once (all parsed), then the change, reported as inotify would name it.</summary>
    private (UnitSet Before, UnitSet After) Change(Action change, params string[] named)
    {
        for (int i = 1; i <= 20; i++) _dir.Write($"s{i}.toml", Service());
        var before = Load();
        Assert.Equal(before.Units.Count + before.BadUnits.Count, _cache.LastParsed.Count); // the first load parses everything
        change();
        _cache.Invalidate(named.Select(n => Path.Combine(_dir.Dir, n)));
        return (before, Load());
    }

    private static ulong? Memory(UnitSet set, string unit) => set.Units[unit].Definition.Resources.MemoryMax?.Bytes;

    [Fact]
    public void An_edit_reparses_only_the_edited_unit_and_the_others_keep_their_definitions()
    {
        var (before, after) = Change(() => _dir.Write("s7.toml", Service("96M")), "s7.toml");

        Assert.Equal(new[] { "s7" }, _cache.LastParsed);
        Assert.Equal(96UL << 20, Memory(after, "s7"));
        Assert.Same(before.Units["s1"].Definition, after.Units["s1"].Definition);
        Assert.Equal(20, after.Units.Count);
    }

    [Fact]
    public void A_drop_in_created_and_then_removed_reparses_its_unit_only()
    {
        var (_, after) = Change(() => _dir.Write("s3.toml.d/10-memory.toml", "[Resources]\nMemoryMax = \"128M\"\n"), "s3.toml.d/10-memory.toml");
        Assert.Equal(new[] { "s3" }, _cache.LastParsed);
        Assert.Equal(128UL << 20, Memory(after, "s3"));

        Directory.Delete(Path.Combine(_dir.Dir, "s3.toml.d"), recursive: true);
        _cache.Invalidate([Path.Combine(_dir.Dir, "s3.toml.d")]);
        var removed = Load();
        Assert.Equal(new[] { "s3" }, _cache.LastParsed);
        Assert.Equal(64UL << 20, Memory(removed, "s3"));
    }

    [Fact]
    public void A_template_edit_reparses_its_instances_and_nothing_else()
    {
        _dir.Write("w@.toml", Service());
        _dir.Write("w@a.toml", "");
        _dir.Write("w@b.toml", "");
        var (_, after) = Change(() => _dir.Write("w@.toml", Service("32M")), "w@.toml");

        Assert.Equal(new[] { "w@a", "w@b" }, _cache.LastParsed);
        Assert.Equal(32UL << 20, Memory(after, "w@a"));
        Assert.Equal(32UL << 20, Memory(after, "w@b"));

        _dir.Write("w@.toml.d/10-memory.toml", "[Resources]\nMemoryMax = \"48M\"\n");
        _cache.Invalidate([Path.Combine(_dir.Dir, "w@.toml.d/10-memory.toml")]);
        var dropIn = Load();
        Assert.Equal(new[] { "w@a", "w@b" }, _cache.LastParsed);
        Assert.Equal(48UL << 20, Memory(dropIn, "w@b"));
    }

    [Fact]
    public void A_slice_edit_reparses_the_slice_and_its_units_keep_their_definitions()
    {
        _dir.Write("app.slice.toml", "[Resources]\nMemoryMax = \"1G\"\n");
        _dir.Write("web.toml", Service(slice: "app.slice"));
        var (before, after) = Change(() => _dir.Write("app.slice.toml", "[Resources]\nMemoryMax = \"2G\"\n"), "app.slice.toml");

        Assert.Equal(new[] { "app.slice" }, _cache.LastParsed);
        Assert.Equal(2UL << 30, Memory(after, "app.slice"));
        Assert.Same(before.Units["web"].Definition, after.Units["web"].Definition);
    }

    [Fact]
    public void A_deleted_unit_is_gone_without_any_parse()
    {
        var (_, after) = Change(() => File.Delete(Path.Combine(_dir.Dir, "s5.toml")), "s5.toml");

        Assert.Empty(_cache.LastParsed);
        Assert.False(after.Units.ContainsKey("s5"));
        Assert.Equal(19, after.Units.Count);
    }

    [Fact]
    public void A_rename_drops_the_old_name_and_parses_the_new_one_only()
    {
        var (_, after) = Change(() => File.Move(Path.Combine(_dir.Dir, "s5.toml"), Path.Combine(_dir.Dir, "s50.toml")), "s5.toml", "s50.toml");

        Assert.Equal(new[] { "s50" }, _cache.LastParsed);
        Assert.False(after.Units.ContainsKey("s5"));
        Assert.Equal(64UL << 20, Memory(after, "s50"));
    }

    [Fact]
    public void An_edit_that_does_not_parse_makes_only_that_unit_bad_and_its_fix_brings_it_back()
    {
        var (_, broken) = Change(() => _dir.Write("s2.toml", "[Service\nExecStart = ["), "s2.toml");
        Assert.Equal(new[] { "s2" }, _cache.LastParsed);
        Assert.True(broken.BadUnits.ContainsKey("s2"));
        Assert.Contains(broken.Diagnostics, d => d.Unit == "s2" && d.Severity == Severity.Error);
        Assert.Equal(19, broken.Units.Count);

        _dir.Write("s2.toml", Service("80M"));
        _cache.Invalidate([Path.Combine(_dir.Dir, "s2.toml")]);
        var fixedSet = Load();
        Assert.Equal(80UL << 20, Memory(fixedSet, "s2"));
        Assert.Empty(fixedSet.Diagnostics);
    }

    [Fact]
    public void A_kept_unit_keeps_reporting_its_diagnostics()
    {
        _dir.Write("warned.toml", "[Service]\nExecStart = [\"/bin/true\"]\nBogusKey = 1\n");
        var (before, after) = Change(() => _dir.Write("s1.toml", Service("96M")), "s1.toml");

        Assert.Equal(new[] { "s1" }, _cache.LastParsed);
        Assert.Equal(before.DiagnosticsFor("warned").Select(d => d.ToString()), after.DiagnosticsFor("warned").Select(d => d.ToString()));
        Assert.NotEmpty(after.DiagnosticsFor("warned"));
    }

    [Fact]
    public void Without_a_named_change_the_safety_net_reparses_what_looks_different()
    {
        Change(() => { });
        Assert.Empty(_cache.LastParsed);

        var path = _dir.Write("s9.toml", Service("200M"));
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(1)); // another time than the parse saw, even on a coarse clock
        _cache.DropStale();
        var after = Load();
        Assert.Equal(new[] { "s9" }, _cache.LastParsed);
        Assert.Equal(200UL << 20, Memory(after, "s9"));
    }
}
