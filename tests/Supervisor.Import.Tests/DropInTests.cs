using Supervisor.Import.Ini;

namespace Supervisor.Import.Tests;

/// <summary>Drop-ins found where systemd looks for them beside the unit, applied in systemd's order (systemd.unit(5) "Drop-in files").</summary>
public sealed class DropInTests : IDisposable
{
    private readonly Scratch _s = new();

    public void Dispose() => _s.Dispose();

    [Fact]
    public void Drop_ins_of_the_name_its_dash_prefixes_and_the_type_apply_in_lexical_order_and_the_most_specific_of_a_name_wins()
    {
        _s.Write("x-y-z.service", "[Service]\nExecStart=/bin/true\nEnvironment=A=unit\n");
        _s.Write("service.d/05-type.conf", "[Unit]\nDescription=from service.d\n");
        _s.Write("x-.service.d/10-a.conf", "[Service]\nEnvironment=A=from-x-\n");
        _s.Write("x-y-z.service.d/10-a.conf", "[Service]\nEnvironment=A=from-x-y-z\n");
        _s.Write("x-y-.service.d/15-c.conf", "[Service]\nEnvironment=C=from-x-y-\n");
        _s.Write("x-.service.d/20-b.conf", "[Service]\nEnvironment=B=from-x-\n");
        _s.Write("x-y-z.service.d/.hidden.conf", "[Service]\nUser=hidden\n");
        _s.Write("x-y-z.service.d/notes.txt", "[Service]\nUser=not-a-conf\n");
        var (units, _) = UnitSources.Discover([Path.Combine(_s.Dir, "x-y-z.service")]);
        var files = units.Single().Files.Select(f => Path.GetRelativePath(_s.Dir, f.Path));
        Assert.Equal(["x-y-z.service", "service.d/05-type.conf", "x-y-z.service.d/10-a.conf", "x-y-.service.d/15-c.conf", "x-.service.d/20-b.conf"], files);

        var c = _s.Translate("x-y-z.service", File.ReadAllText(Path.Combine(_s.Dir, "x-y-z.service")));
        Assert.Equal("from service.d", c.Value("Description"));
        var env = Assert.IsType<List<KeyValuePair<string, object>>>(c.Value("Environment"));
        Assert.Equal(["A=from-x-y-z", "C=from-x-y-", "B=from-x-"], env.Select(kv => $"{kv.Key}={kv.Value}"));
        Assert.Null(c.Value("User"));
    }

    [Fact]
    public void A_drop_in_linked_to_dev_null_masks_the_ones_of_its_name()
    {
        _s.Write("web.service", "[Service]\nExecStart=/bin/true\n");
        _s.Write("service.d/50-user.conf", "[Service]\nUser=nobody\n");
        Directory.CreateDirectory(Path.Combine(_s.Dir, "web.service.d"));
        File.CreateSymbolicLink(Path.Combine(_s.Dir, "web.service.d", "50-user.conf"), "/dev/null");
        var c = _s.Translate("web.service", "[Service]\nExecStart=/bin/true\n");
        Assert.Null(c.Value("User"));
    }

    [Fact]
    public void An_empty_assignment_in_a_drop_in_resets_the_list_and_a_new_one_replaces_it_with_its_own_file_and_line()
    {
        _s.Write("web.service.d/override.conf", "[Service]\nExecStart=\nExecStart=/bin/echo replaced\nFrobnicate=1\n");
        var c = _s.Translate("web.service", "[Service]\nExecStart=/bin/echo original\n");
        Assert.Equal(["/bin/echo", "replaced"], Assert.IsType<List<object>>(c.Value("ExecStart")));
        var unknown = c.Why("Frobnicate");
        Assert.Equal((Path.Combine(_s.Dir, "web.service.d", "override.conf"), 4), (unknown.Location.Path, unknown.Location.Line));
    }

    [Fact]
    public void A_template_instance_reads_the_drop_ins_of_its_template()
    {
        _s.Write("getty@tty1.service", "[Service]\nExecStart=/bin/true\n");
        _s.Write("getty@.service.d/10-user.conf", "[Service]\nUser=nobody\n");
        _s.Write("getty@tty1.service.d/20-group.conf", "[Service]\nGroup=nogroup\n");
        var (units, _) = UnitSources.Discover([Path.Combine(_s.Dir, "getty@tty1.service")]);
        Assert.Equal(["getty@tty1.service", "getty@.service.d/10-user.conf", "getty@tty1.service.d/20-group.conf"],
            units.Single().Files.Select(f => Path.GetRelativePath(_s.Dir, f.Path)));
    }

    [Fact]
    public void A_masked_unit_is_skipped_and_an_alias_is_imported_once_under_its_target_name()
    {
        _s.Write("real.service", "[Service]\nExecStart=/bin/true\n");
        File.CreateSymbolicLink(Path.Combine(_s.Dir, "alias.service"), "real.service");
        File.CreateSymbolicLink(Path.Combine(_s.Dir, "masked.service"), "/dev/null");
        var (units, notes) = UnitSources.Discover([_s.Dir]);
        Assert.Equal(["real.service"], units.Select(u => u.Name.Full));
        Assert.Contains(notes, n => n.Path.EndsWith("alias.service", StringComparison.Ordinal) && n.Message.Contains("alias of real.service"));
        Assert.Contains(notes, n => n.Path.EndsWith("masked.service", StringComparison.Ordinal) && n.Message.Contains("masked"));
        Assert.DoesNotContain(notes, n => n.IsError);
    }
}
