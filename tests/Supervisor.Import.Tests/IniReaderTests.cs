using System.Text;
using Supervisor.Import.Ini;

namespace Supervisor.Import.Tests;

/// <summary>systemd's unit file syntax (systemd.syntax(7)) as the reader keeps it: every assignment with its file and line.</summary>
public class IniReaderTests
{
    private static IniFile Read(string text) => SystemdIniReader.Parse(text, "/u/x.service");

    [Fact]
    public void A_trailing_backslash_continues_the_line_with_a_space_and_the_key_keeps_its_first_line()
    {
        var f = Read("[Service]\nExecStart=/bin/echo \\\n  a \\\nb\nUser=nobody\n");
        Assert.Equal("/bin/echo    a  b", f.Assignments[0].Value);
        Assert.Equal(2, f.Assignments[0].Location.Line);
        Assert.Equal(("User", 5), (f.Assignments[1].Key, f.Assignments[1].Location.Line));
    }

    [Fact]
    public void Comment_lines_inside_a_continued_assignment_are_skipped()
    {
        var f = Read("[Service]\nEnvironment=A=1 \\\n# a comment\n; another\n  B=2\n");
        Assert.Equal("A=1    B=2", f.Assignments.Single().Value);
    }

    [Fact]
    public void An_escaped_backslash_at_the_end_does_not_continue()
    {
        var f = Read("[Service]\nExecStart=/bin/echo a\\\\\nUser=nobody\n");
        Assert.Equal(["ExecStart", "User"], f.Assignments.Select(a => a.Key));
        Assert.Equal("/bin/echo a\\\\", f.Assignments[0].Value);
    }

    [Fact]
    public void Comments_start_with_hash_or_semicolon_but_not_after_a_value()
    {
        var f = Read("# top\n[Unit]\n  ; indented comment\nDescription=web # not a comment\n");
        Assert.Equal("web # not a comment", f.Assignments.Single().Value);
    }

    [Fact]
    public void Whitespace_around_key_and_value_is_stripped_and_repeated_keys_are_all_kept_in_order()
    {
        var f = Read("[Service]\n  ReadWritePaths =  /a  \nReadWritePaths=/b\nReadWritePaths=\n");
        Assert.Equal(["/a", "/b", ""], f.Assignments.Select(a => a.Value));
        Assert.All(f.Assignments, a => Assert.Equal("ReadWritePaths", a.Key));
    }

    [Fact]
    public void Lines_systemd_ignores_are_kept_with_its_reason_and_line()
    {
        var f = Read("Description=before any section\n[Unit]\njust words\n=value\n");
        Assert.Empty(f.Assignments);
        Assert.Equal([1, 3, 4], f.Ignored.Select(i => i.Location.Line));
        Assert.Contains("outside of any section", f.Ignored[0].Reason);
        Assert.Contains("missing '='", f.Ignored[1].Reason);
        Assert.Contains("missing key name", f.Ignored[2].Reason);
    }

    [Fact]
    public void A_bad_section_header_makes_systemd_refuse_the_file_and_the_error_names_the_line()
    {
        var e = Assert.Throws<SystemdFileException>(() => Read("[Unit]\nDescription=x\n[Service\n"));
        Assert.Equal(3, e.Location.Line);
        Assert.Contains("invalid section header", e.Message);
    }

    [Fact]
    public void Bytes_that_are_not_UTF8_refuse_the_file_but_not_in_a_comment()
    {
        var bad = Encoding.UTF8.GetBytes("[Unit]\n# caf\u00e9\nDescription=x\n").ToList();
        bad.InsertRange(12, new byte[] { 0xff });
        var f = SystemdIniReader.Parse(bad.ToArray(), "/u/x.service");
        Assert.Equal("x", f.Assignments.Single().Value);
        var e = Assert.Throws<SystemdFileException>(() => SystemdIniReader.Parse([.. "[Unit]\nDescription=\u00ff"u8.ToArray()[..^1], 0xff], "/u/x.service"));
        Assert.Equal(2, e.Location.Line);
    }

    [Fact]
    public void A_byte_order_mark_and_CRLF_line_ends_are_read_as_systemd_reads_them()
    {
        var f = SystemdIniReader.Parse([0xEF, 0xBB, 0xBF, .. "[Unit]\r\nDescription=x\r\n"u8.ToArray()], "/u/x.service");
        Assert.Equal(("Unit", "Description", "x"), (f.Assignments[0].Section, f.Assignments[0].Key, f.Assignments[0].Value));
    }

    [Fact]
    public void A_hundred_thousand_continued_lines_are_one_assignment()
    {
        var text = "[Service]\nExecStart=/bin/echo \\\n" + string.Concat(Enumerable.Repeat("x \\\n", 100_000)) + "end\n";
        var a = Read(text).Assignments.Single();
        Assert.Equal(2, a.Location.Line);
        Assert.EndsWith("x  x  end", a.Value);
        Assert.Equal(100_000, a.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Count(w => w == "x"));
    }
}
