using Supervisor.Units.Model;

namespace Supervisor.Units.Tests;

public class LoaderTests
{
    private const string Svc = "[Service]\nExecStart = [\"/bin/true\"]\n";

    private static readonly LoadOptions NoOwnership = new() { RequireRootOwnership = false };

    [Fact]
    public void One_bad_unit_never_hides_or_disturbs_the_others()
    {
        using var t = new TempUnits();
        t.Write("good.toml", Svc);
        t.Write("bad.toml", "[Service]\nExecStart = [\"/bin/true\"]\nRestart = \"maybe\"\n");
        t.Write("broken.toml", "this is not toml");
        t.Write("also-good.toml", Svc);
        var set = UnitLoader.LoadDirectory(t.Dir, NoOwnership);
        Assert.Equal(["also-good", "good"], set.Units.Keys.Order());
        Assert.Equal(["bad", "broken"], set.BadUnits.Keys.Order());
        Assert.Single(set.DiagnosticsFor("bad"));
        Assert.Single(set.DiagnosticsFor("broken"));
    }

    [Fact]
    public void Too_large_file_is_refused_without_reading_it_all()
    {
        using var t = new TempUnits();
        var path = t.Write("big.toml", Svc + "# " + new string('x', (int)Limits.MaxFileBytes) + "\n");
        var set = UnitLoader.LoadDirectory(t.Dir, NoOwnership);
        Assert.Equal($"{path}: big: file is larger than 1024 KiB, refusing to parse it", Assert.Single(set.Diagnostics).ToString());
    }

    [Fact]
    public void A_directory_where_a_unit_file_is_expected()
    {
        using var t = new TempUnits();
        Directory.CreateDirectory(Path.Combine(t.Dir, "dir.toml"));
        var set = UnitLoader.LoadDirectory(t.Dir, NoOwnership);
        Assert.Equal($"{Path.Combine(t.Dir, "dir.toml")}: dir: is a directory, expected a unit file", Assert.Single(set.Diagnostics).ToString());
    }

    [Fact]
    public void A_file_that_cannot_be_read()
    {
        using var t = new TempUnits();
        // A dangling symlink: listed in the directory, but reading it fails (root could read a mode-000 file).
        var link = Path.Combine(t.Dir, "gone.toml");
        File.CreateSymbolicLink(link, Path.Combine(t.Dir, "nowhere"));
        var set = UnitLoader.LoadDirectory(t.Dir, NoOwnership);
        Assert.Equal($"{link}: gone: cannot read file: no such file or directory", Assert.Single(set.Diagnostics).ToString());
    }

    [Fact]
    public void Not_utf8_file()
    {
        using var t = new TempUnits();
        var path = t.WriteBytes("latin1.toml", [.. "[Unit]\nDescription = \"caf"u8, 0xE9, (byte)'"', (byte)'\n', .. "[Service]\nExecStart = [\"/bin/true\"]\n"u8]);
        var set = UnitLoader.LoadDirectory(t.Dir, NoOwnership);
        Assert.Equal($"{path}:2:19: latin1: file is not valid UTF-8", Assert.Single(set.Diagnostics).ToString());
    }

    [Theory]
    [InlineData("we b")]
    [InlineData("web$")]
    [InlineData("wéb")]
    public void Unit_name_with_forbidden_characters(string name)
    {
        using var t = new TempUnits();
        var path = t.Write(name + ".toml", Svc);
        var set = UnitLoader.LoadDirectory(t.Dir, NoOwnership);
        Assert.Equal($"{path}: {name}: invalid unit name '{name}': only letters, digits and : _ . @ - are allowed (and \\ in a template's instance, as systemd-escape writes it), at most 255 characters",
            Assert.Single(set.Diagnostics).ToString());
    }

    [Fact]
    public void Names_with_all_allowed_characters_load()
    {
        using var t = new TempUnits();
        t.Write("getty@tty1:x_y-z.v2.toml", Svc);
        Assert.Contains("getty@tty1:x_y-z.v2", UnitLoader.LoadDirectory(t.Dir, NoOwnership).Units.Keys);
    }

    [Fact]
    public void Drop_ins_merge_in_lexical_order_later_wins()
    {
        using var t = new TempUnits();
        t.Write("web.toml", Svc + "Restart = \"no\"\nEnvironment = { A = \"1\", B = \"1\" }\n[Unit]\nWants = [\"x\"]\n[Resources]\nMemoryMax = \"64M\"\n");
        t.Write("x.toml", Svc);
        t.Write("y.toml", Svc);
        t.Write("web.toml.d/20-b.toml", "[Resources]\nMemoryMax = \"256M\"\n[Service]\nEnvironment = { B = \"3\" }\n");
        t.Write("web.toml.d/10-a.toml", "[Resources]\nMemoryMax = \"128M\"\n[Service]\nRestart = \"always\"\nEnvironment = { B = \"2\", C = \"2\" }\n[Unit]\nWants = { append = [\"y\"] }\n");
        t.Write("web.toml.d/README", "not a drop-in");
        var set = UnitLoader.LoadDirectory(t.Dir, NoOwnership);
        Assert.False(set.HasErrors, string.Join("\n", set.Diagnostics));
        var web = set.Units["web"].Definition;
        Assert.Equal("256M", web.Resources.MemoryMax.ToString());
        Assert.Equal(RestartPolicy.Always, web.Service.Restart);
        Assert.Equal([new("A", "1"), new("B", "3"), new("C", "2")], web.Service.Environment.OrderBy(kv => kv.Key).ToArray());
        Assert.Equal(["x", "y"], web.Unit.Wants);
        Assert.Equal(3, web.Sources.Count);
        Assert.EndsWith("10-a.toml", web.Sources[1]);
    }

    [Fact]
    public void A_list_in_a_drop_in_replaces_unless_it_appends()
    {
        using var t = new TempUnits();
        foreach (var n in new[] { "a", "b", "c" }) t.Write(n + ".toml", Svc);
        t.Write("web.toml", Svc + "[Unit]\nAfter = [\"a\", \"b\"]\n");
        t.Write("web.toml.d/override.toml", "[Unit]\nAfter = [\"c\"]\n");
        Assert.Equal(["c"], UnitLoader.LoadDirectory(t.Dir, NoOwnership).Units["web"].Definition.Unit.After);
    }

    [Fact]
    public void An_error_in_a_drop_in_names_the_drop_in()
    {
        using var t = new TempUnits();
        t.Write("web.toml", Svc);
        var dropIn = t.Write("web.toml.d/50-x.toml", "[Resources]\nMemoryMax = \"lots\"\n");
        var d = Assert.Single(UnitLoader.LoadDirectory(t.Dir, NoOwnership).Diagnostics);
        Assert.StartsWith($"{dropIn}:2:13: web: [Resources] MemoryMax: expected a size", d.ToString());
    }

    [Fact]
    public void Drop_in_directory_without_its_unit_is_a_warning()
    {
        using var t = new TempUnits();
        t.Write("orphan.toml.d/a.toml", "[Resources]\nMemoryMax = \"1G\"\n");
        var set = UnitLoader.LoadDirectory(t.Dir, NoOwnership);
        Assert.False(set.HasErrors);
        Assert.Contains("drop-in directory has no unit 'orphan.toml' beside it", Assert.Single(set.Diagnostics).Message);
    }

    [Fact]
    public void Requires_on_a_missing_unit_is_an_error_with_a_hint()
    {
        using var t = new TempUnits();
        t.Write("database.toml", Svc);
        var path = t.Write("web.toml", "[Unit]\nRequires = [\"databse\"]\n" + Svc);
        var set = UnitLoader.LoadDirectory(t.Dir, NoOwnership);
        Assert.Equal($"{path}:2:13: web: [Unit] Requires: unit 'databse' does not exist; did you mean 'database'?", Assert.Single(set.Diagnostics).ToString());
        Assert.Contains("web", set.BadUnits.Keys);
        Assert.Contains("database", set.Units.Keys);
    }

    [Fact]
    public void Wants_on_a_missing_unit_is_a_warning()
    {
        using var t = new TempUnits();
        t.Write("web.toml", "[Unit]\nWants = [\"cache\"]\n" + Svc);
        var set = UnitLoader.LoadDirectory(t.Dir, NoOwnership);
        Assert.False(set.HasErrors);
        Assert.Equal(Severity.Warning, Assert.Single(set.Diagnostics).Severity);
        Assert.Contains("web", set.Units.Keys);
    }

    [Fact]
    public void Ordering_cycle_is_reported_with_its_path_on_each_unit()
    {
        using var t = new TempUnits();
        t.Write("a.toml", "[Unit]\nAfter = [\"b\"]\n" + Svc);
        t.Write("b.toml", "[Unit]\nAfter = [\"c\"]\n" + Svc);
        t.Write("c.toml", "[Unit]\nBefore = [\"b\"]\nAfter = [\"a\"]\n" + Svc);
        t.Write("d.toml", "[Unit]\nAfter = [\"a\"]\n" + Svc);
        var set = UnitLoader.LoadDirectory(t.Dir, NoOwnership);
        var errors = set.Diagnostics.Where(d => d.Severity == Severity.Error).ToList();
        Assert.Equal(3, errors.Count);
        Assert.All(errors, e => Assert.Contains("[Unit] ordering cycle: a → b → c → a (each starts after the next)", e.Message));
        Assert.Equal(["d"], set.Units.Keys);
    }

    [Fact]
    public void Self_dependency_is_an_error()
    {
        using var t = new TempUnits();
        t.Write("a.toml", "[Unit]\nRequires = [\"a\"]\n" + Svc);
        Assert.Contains("a unit cannot depend on itself", Assert.Single(UnitLoader.LoadDirectory(t.Dir, NoOwnership).Diagnostics).Message);
    }

    [Fact]
    public void Slices_nest_by_name_and_members_must_name_a_declared_slice()
    {
        using var t = new TempUnits();
        t.Write("a.slice.toml", "[Resources]\nMemoryMax = \"1G\"\n");
        t.Write("a-b.slice.toml", "[Resources]\nMemoryMax = \"512M\"\n");
        t.Write("member.toml", Svc + "Slice = \"a-b\"\n");
        var path = t.Write("typo.toml", Svc + "Slice = \"a-c\"\n");
        var set = UnitLoader.LoadDirectory(t.Dir, NoOwnership);
        Assert.Equal(UnitKind.Slice, set.Units["a-b.slice"].Definition.Kind);
        Assert.Equal("a.slice", set.Units["a-b.slice"].Definition.ParentSlice);
        Assert.Null(set.Units["a.slice"].Definition.ParentSlice);
        Assert.Equal("a-b.slice", set.Units["member"].Definition.ParentSlice);
        Assert.Equal(["a.slice", "a-b.slice"], SliceNames.Chain("a-b.slice"));
        Assert.Equal(["a.slice", "a-b.slice", "a-b-c.slice"], SliceNames.Chain("a-b-c.slice"));
        Assert.Equal($"{path}:3:9: typo: [Service] Slice: slice 'a-c.slice' is not declared; did you mean 'a-b'?", Assert.Single(set.Diagnostics).ToString());
    }

    [Fact]
    public void Check_of_one_file_sees_its_siblings_for_dependencies()
    {
        using var t = new TempUnits();
        t.Write("db.toml", "[Service]\nExecStart = [\"/bin/true\"]\nRestart = \"bogus\"\n");
        var web = t.Write("web.toml", "[Unit]\nRequires = [\"db\"]\n" + Svc);
        var set = UnitLoader.Load([web], NoOwnership);
        Assert.False(set.HasErrors, string.Join("\n", set.Diagnostics));
        Assert.Equal(["web"], set.Units.Keys);
    }

    [Fact]
    public void Missing_path_given_to_check()
    {
        var set = UnitLoader.Load(["/nonexistent/x.toml"], NoOwnership);
        Assert.Equal("/nonexistent/x.toml: x: cannot read file: no such file or directory", Assert.Single(set.Diagnostics).ToString());
    }

    private static void RequireRoot()
    {
        if (!LoadOptions.IsRoot) Assert.Skip("needs root: files must be chowned to another user");
    }

    [Fact]
    public void As_root_a_unit_file_owned_by_another_user_is_refused_and_still_checked()
    {
        RequireRoot();
        using var t = new TempUnits();
        var path = t.Write("web.toml", Svc + "Restart = \"sometimes\"\n");
        t.Write("ok.toml", Svc);
        Chown(path, 65534);
        var set = UnitLoader.LoadDirectory(t.Dir, new LoadOptions { RequireRootOwnership = true });
        var messages = set.DiagnosticsFor("web").Select(d => d.ToString()).ToList();
        Assert.Equal($"{path}: web: refusing unit file owned by uid 65534: the supervisor runs as root, and a unit file is code it runs as root; chown root:root '{path}'", messages[0]);
        Assert.Contains(messages, m => m.Contains("Restart: expected one of"));
        Assert.Equal(["web"], set.BadUnits.Keys);
        Assert.Equal(["ok"], set.Units.Keys);
    }

    [Fact]
    public void As_root_a_world_writable_unit_file_is_refused()
    {
        RequireRoot();
        using var t = new TempUnits();
        var path = t.Write("web.toml", Svc);
        File.SetUnixFileMode(path, (UnixFileMode)0b110_110_110);
        var d = Assert.Single(UnitLoader.LoadDirectory(t.Dir, new LoadOptions { RequireRootOwnership = true }).Diagnostics);
        Assert.Equal($"{path}: web: refusing unit file writable by everyone (mode 0666): whoever can write it can run code as root; chmod go-w '{path}'", d.ToString());
    }

    [Fact]
    public void As_root_a_group_writable_units_directory_is_refused_for_every_unit_once()
    {
        RequireRoot();
        using var t = new TempUnits();
        t.Write("a.toml", Svc);
        t.Write("b.toml", Svc);
        File.SetUnixFileMode(t.Dir, (UnixFileMode)0b111_111_101);
        var set = UnitLoader.LoadDirectory(t.Dir, new LoadOptions { RequireRootOwnership = true });
        var d = Assert.Single(set.Diagnostics);
        Assert.Contains("refusing directory writable by its group (mode 0775)", d.Message);
        Assert.Equal(["a", "b"], set.BadUnits.Keys.Order());
        Assert.Empty(set.Units);
    }

    [Fact]
    public void As_root_a_drop_in_owned_by_another_user_is_refused()
    {
        RequireRoot();
        using var t = new TempUnits();
        t.Write("web.toml", Svc);
        var dropIn = t.Write("web.toml.d/evil.toml", "[Service]\nUser = \"root\"\n");
        Chown(dropIn, 65534);
        var set = UnitLoader.LoadDirectory(t.Dir, new LoadOptions { RequireRootOwnership = true });
        Assert.Contains(set.Diagnostics, d => d.Message.StartsWith("refusing drop-in owned by uid 65534", StringComparison.Ordinal));
        Assert.Equal(["web"], set.BadUnits.Keys);
    }

    private static void Chown(string path, int uid)
    {
        using var p = System.Diagnostics.Process.Start("chown", $"{uid} {path}");
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }
}
