using Supervisor.Import.Ini;
using Supervisor.Import.Translate;

namespace Supervisor.Import.Tests;

/// <summary>systemd's quoting (systemd.syntax(7) "Quoting") and its Exec* command lines (systemd.service(5) "Command lines").</summary>
public class WordTests
{
    [Fact]
    public void Quotes_group_words_anywhere_in_a_word_and_are_removed()
    {
        Assert.Equal(["ab cd", "e f", "g'h"], SystemdWords.Split("a\"b c\"d 'e f' \"g'h\"", WordRules.Unquote));
    }

    [Fact]
    public void Without_unquoting_quotes_are_ordinary_characters()
    {
        Assert.Equal(["\"a", "b\""], SystemdWords.Split("\"a b\"", WordRules.None));
    }

    [Fact]
    public void C_escapes_are_decoded_inside_and_outside_quotes()
    {
        Assert.Equal(["a\tb", "x y", "A\u00e9", "\\"], SystemdWords.Split("a\\tb \"x\\sy\" \\x41\\u00e9 \\\\", WordRules.Unquote | WordRules.CUnescape));
    }

    [Fact]
    public void An_unknown_escape_or_an_unbalanced_quote_is_an_error_as_in_systemd()
    {
        Assert.Throws<WordSyntaxException>(() => SystemdWords.Split("a\\qb", WordRules.Unquote | WordRules.CUnescape));
        Assert.Throws<WordSyntaxException>(() => SystemdWords.Split("'open", WordRules.Unquote));
        Assert.Equal(["open"], SystemdWords.Split("'open", WordRules.Unquote | WordRules.Relax));
    }

    [Fact]
    public void An_exec_line_keeps_its_prefixes_and_splits_on_a_lone_semicolon()
    {
        var lines = ExecLines.Parse("-/bin/true a ; @/bin/sh sh -c 'echo a;b ;' \\; x");
        Assert.Equal(2, lines.Count);
        Assert.Equal((ExecPrefix.IgnoreFailure, "/bin/true"), (lines[0].Prefix, lines[0].Path));
        Assert.Equal(["/bin/true", "a"], lines[0].Argv);
        Assert.Equal(ExecPrefix.SeparateArgv0, lines[1].Prefix);
        Assert.Equal(["sh", "-c", "echo a;b ;", ";", "x"], lines[1].Argv);
    }

    [Fact]
    public void Every_prefix_combination_systemd_accepts_is_read()
    {
        Assert.Equal(ExecPrefix.IgnoreFailure | ExecPrefix.FullyPrivileged | ExecPrefix.NoEnvExpand, ExecLines.Parse("+-:/bin/x").Single().Prefix);
        Assert.Equal(ExecPrefix.AmbientMagic, ExecLines.Parse("!!/bin/x").Single().Prefix);
        Assert.Equal(ExecPrefix.NoSetuid, ExecLines.Parse("!/bin/x").Single().Prefix);
    }

    [Fact]
    public void A_relative_program_path_is_refused_unless_the_line_may_fail()
    {
        Assert.False(Assert.Throws<ExecSyntaxException>(() => ExecLines.Parse("bin/x")).Ignored);
        Assert.True(Assert.Throws<ExecSyntaxException>(() => ExecLines.Parse("-bin/x")).Ignored);
        Assert.True(Assert.Throws<ExecSyntaxException>(() => ExecLines.Parse("-/bin/x 'unbalanced")).Ignored);
    }
}
