using Supervisor.Units.Model;
using Supervisor.Units.Templates;

namespace Supervisor.Units.Tests;

/// <summary>Issue #15: specifiers, template units and their instances, and .target units, with systemd 252's meaning.</summary>
public class TemplateTests
{
    private static readonly LoadOptions NoOwnership = new() { RequireRootOwnership = false };

    private static readonly SpecifierHost Host = new()
    {
        Hostname = "box.example.org",
        MachineId = "0123456789abcdef0123456789abcdef",
        BootId = "fedcba9876543210fedcba9876543210",
        Architecture = "x86-64",
        KernelRelease = "6.18.0",
        OsRelease = new Dictionary<string, string> { ["ID"] = "debian", ["VERSION_ID"] = "12", ["BUILD_ID"] = "b1", ["VARIANT_ID"] = "v", ["IMAGE_ID"] = "img", ["IMAGE_VERSION"] = "7" },
        TempDirectory = "/tmp",
        VarTempDirectory = "/var/tmp",
        Home = "/root",
        Shell = "/bin/bash",
    };

    private static readonly UnitNameParts Instance = new(@"postgresql-main@15-a\x2db", UnitKind.Service);

    [Theory]
    [InlineData("%n", @"postgresql-main@15-a\x2db.service")]
    [InlineData("%N", @"postgresql-main@15-a\x2db")]
    [InlineData("%p", "postgresql-main")]
    [InlineData("%P", "postgresql/main")]
    [InlineData("%i", @"15-a\x2db")]
    [InlineData("%I", "15/a-b")]
    [InlineData("%j", "main")]
    [InlineData("%J", "main")]
    [InlineData("%f", "/15/a-b")]
    [InlineData("%t", "/run")]
    [InlineData("%S", "/var/lib")]
    [InlineData("%C", "/var/cache")]
    [InlineData("%L", "/var/log")]
    [InlineData("%E", "/etc")]
    [InlineData("%T", "/tmp")]
    [InlineData("%V", "/var/tmp")]
    [InlineData("%u %U %g %G %h %s", "root 0 root 0 /root /bin/bash")]
    [InlineData("%H", "box.example.org")]
    [InlineData("%l", "box")]
    [InlineData("%m", "0123456789abcdef0123456789abcdef")]
    [InlineData("%b", "fedcba9876543210fedcba9876543210")]
    [InlineData("%a %v", "x86-64 6.18.0")]
    [InlineData("%o %w %W %B %M %A", "debian 12 v b1 img 7")]
    [InlineData("100%%", "100%")]
    [InlineData("50%", "50%")]
    [InlineData("size=10%,mode=0700", "size=10%,mode=0700")]
    [InlineData("/run/%p/%i.pid", @"/run/postgresql-main/15-a\x2db.pid")]
    public void Each_specifier_has_systemds_meaning(string text, string expected) =>
        Assert.Equal(expected, Specifiers.Expand(text, Instance, Host));

    [Fact]
    public void A_unit_that_is_not_an_instance_has_an_empty_instance_and_its_name_as_prefix()
    {
        var plain = new UnitNameParts("web", UnitKind.Service);
        Assert.Equal("[] web web.service web /web", Specifiers.Expand("[%i] %p %n %N %f", plain, Host));
        var target = new UnitNameParts("app.target", UnitKind.Target);
        Assert.Equal("app.target app", Specifiers.Expand("%n %N", target, Host));
    }

    [Fact]
    public void An_unknown_specifier_is_one_error_at_its_place() =>
        Assert.Equal("svc.toml:2:21: svc: [Service] ExecStart: unknown specifier '%Z' in \"/bin/x%Z\"; write %% for a literal %; known specifiers: " + Specifiers.Known,
            Parse.SingleError("[Service]\nExecStart = [\"/bin/x%Z\"]\n").ToString());

    [Fact]
    public void Specifiers_reach_every_string_of_a_unit_and_leave_percentages_alone()
    {
        var u = Parse.Valid("[Unit]\nDescription = \"db %i\"\n[Service]\nExecStart = [\"/bin/echo\", \"%p:%i\"]\nEnvironment = { NAME = \"%N\" }\n" +
            "WorkingDirectory = \"%S/%p\"\n[Resources]\nCPUQuota = \"50%\"\n", name: "pg@15");
        Assert.Equal("db 15", u.Unit.Description);
        Assert.Equal(["/bin/echo", "pg:15"], u.Service.ExecStart!.Argv);
        Assert.Equal("pg@15", Assert.Single(u.Service.Environment).Value);
        Assert.Equal("/var/lib/pg", u.Service.WorkingDirectory!.Path);
        Assert.Equal("50%", u.Resources.CPUQuota!.Value.ToString());
    }

    [Fact]
    public void Escaping_follows_systemd_escape() =>
        Assert.Equal((@"var-lib-a\x2db", "/var/lib/a-b"), (UnitNameParts.Escape("var/lib/a-b"), UnitNameParts.UnescapePath(@"var-lib-a\x2db")));

    [Fact]
    public void A_template_is_not_a_unit_and_an_instance_comes_from_a_symlink_an_empty_file_a_Wants_or_a_start()
    {
        using var t = new TempUnits();
        t.Write("pg@.toml", "[Service]\nExecStart = [\"/bin/echo\", \"%i\"]\n");
        File.CreateSymbolicLink(Path.Combine(t.Dir, "pg@linked.toml"), "pg@.toml");
        t.Write("pg@empty.toml", "");
        t.Write("app.toml", "[Unit]\nRequires = [\"pg@wanted.service\"]\nAfter = [\"pg@ordered-only\"]\n[Service]\nExecStart = [\"/bin/true\"]\n");
        var set = UnitLoader.LoadDirectory(t.Dir, NoOwnership with { Instances = new HashSet<string> { "pg@started", "nothere@x" } });

        Assert.False(set.HasErrors, string.Join("\n", set.Diagnostics));
        Assert.Equal(["app", "pg@empty", "pg@linked", "pg@started", "pg@wanted"], set.Units.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["/bin/echo", "wanted"], set.Units["pg@wanted"].Definition.Service.ExecStart!.Argv);
        Assert.Empty(set.Diagnostics); // After= on an instance of an existing template is no "does not exist"
        Assert.Equal("pg@wanted.service", UnitCgroup.Leaf("pg@wanted"));
    }

    [Fact]
    public void A_regular_file_for_an_instance_wins_over_the_template()
    {
        using var t = new TempUnits();
        t.Write("pg@.toml", "[Service]\nExecStart = [\"/bin/echo\", \"template\"]\n");
        t.Write("pg@own.toml", "[Service]\nExecStart = [\"/bin/echo\", \"own %i\"]\n");
        var set = UnitLoader.LoadDirectory(t.Dir, NoOwnership);
        Assert.Equal(["/bin/echo", "own own"], set.Units["pg@own"].Definition.Service.ExecStart!.Argv);
    }

    [Fact]
    public void An_instance_takes_the_templates_drop_ins_and_its_own_and_its_own_replace_same_named_ones()
    {
        using var t = new TempUnits();
        t.Write("pg@.toml", "[Service]\nExecStart = [\"/bin/true\"]\n");
        t.Write("pg@a.toml", "");
        t.Write("pg@b.toml", "");
        t.Write("pg@.toml.d/10-all.toml", "[Unit]\nDescription = \"all %i\"\n[Service]\nRestart = \"always\"\n");
        t.Write("pg@.toml.d/20-x.toml", "[Service]\nEnvironment = { X = \"template\" }\n");
        t.Write("pg@a.toml.d/20-x.toml", "[Service]\nEnvironment = { X = \"instance\" }\n");
        var set = UnitLoader.LoadDirectory(t.Dir, NoOwnership);
        Assert.False(set.HasErrors, string.Join("\n", set.Diagnostics));
        Assert.Empty(set.Diagnostics);
        var a = set.Units["pg@a"].Definition;
        var b = set.Units["pg@b"].Definition;
        Assert.Equal(("all a", RestartPolicy.Always, "instance"), (a.Unit.Description, a.Service.Restart, a.Service.Environment[0].Value));
        Assert.Equal(("all b", "template"), (b.Unit.Description, b.Service.Environment[0].Value));
    }

    [Fact]
    public void An_instance_link_without_its_template_is_an_error_naming_the_template()
    {
        using var t = new TempUnits();
        var path = t.Write("gone@x.toml", "");
        var d = Assert.Single(UnitLoader.LoadDirectory(t.Dir, NoOwnership).Diagnostics);
        Assert.Equal($"{path}: gone@x: instance 'gone@x' has no template 'gone@.toml' beside it; create the template, or write the unit in this file", d.ToString());
    }

    [Fact]
    public void A_template_nobody_uses_is_still_checked()
    {
        using var t = new TempUnits();
        t.Write("pg@.toml", "[Service]\nExecStart = [\"/bin/x%Z\"]\n");
        var set = UnitLoader.LoadDirectory(t.Dir, NoOwnership);
        Assert.Empty(set.Units);
        Assert.Empty(set.BadUnits);
        Assert.Contains("unknown specifier '%Z'", Assert.Single(set.Diagnostics).Message);
    }

    [Fact]
    public void A_target_file_is_a_target_with_only_Unit_keys()
    {
        using var t = new TempUnits();
        t.Write("app.target.toml", "[Unit]\nDescription = \"app\"\nWants = [\"web\"]\n");
        t.Write("web.toml", "[Unit]\nAfter = [\"network.target\", \"app.target\"]\nWants = [\"network-online.target\"]\n[Service]\nExecStart = [\"/bin/true\"]\n");
        t.Write("bad.target.toml", "[Service]\nExecStart = [\"/bin/true\"]\n");
        var set = UnitLoader.LoadDirectory(t.Dir, NoOwnership);
        Assert.Equal(UnitKind.Target, set.Units["app.target"].Definition.Kind);
        Assert.Contains("bad.target", set.BadUnits.Keys);
        Assert.Equal("[Service] is not allowed in a target; targets have only [Unit] (they run nothing)", Assert.Single(set.Diagnostics).Message);
    }

    [Fact]
    public void A_target_is_ordered_after_what_it_wants_unless_that_is_ordered_after_it()
    {
        var app = Parse.Valid("[Unit]\nWants = [\"db\", \"web\"]\n", name: "app.target", kind: UnitKind.Target);
        var db = Parse.Valid("[Service]\nExecStart = [\"/bin/true\"]\n", name: "db");
        var web = Parse.Valid("[Unit]\nAfter = [\"app.target\"]\n[Service]\nExecStart = [\"/bin/true\"]\n", name: "web");
        var all = new[] { app, db, web }.ToDictionary(u => u.Name);
        Assert.Equal(["db"], Targets.ImplicitAfter(app, all.GetValueOrDefault));
    }
}
