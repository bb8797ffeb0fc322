using System.Text;

namespace Supervisor.Units.Tests;

/// <summary>
/// Issue #13: the TOML reader is linear and exact. Absurd tables are refused before the TOML
/// parser sees them, every key is defined once (checked exactly, not by hash), and no string
/// can carry a NUL into an argument or a path.
/// </summary>
public class TomlShapeTests
{
    private static string Keys(int count, string separator, Func<int, string>? name = null) =>
        string.Join(separator, Enumerable.Range(0, count).Select(i => $"{(name ?? (n => $"V{n}"))(i)} = \"x\""));

    [Fact]
    public void An_inline_table_with_too_many_keys_is_refused_at_the_first_key_too_many()
    {
        var text = "[Service]\nExecStart = [\"/bin/true\"]\nEnvironment = { " + Keys(Limits.MaxKeysPerTable + 1, ", ") + " }\n";
        var d = Parse.SingleError(text);
        // The key after the last allowed one: "V4352 = ..." starts after 4352 entries of 'Vn = "x", '.
        var column = "Environment = { ".Length + Enumerable.Range(0, Limits.MaxKeysPerTable).Sum(i => $"V{i} = \"x\", ".Length) + $"V{Limits.MaxKeysPerTable} ".Length + 1;
        Assert.Equal($"svc.toml:3:{column}: svc: more than {Limits.MaxKeysPerTable} keys in one inline table", d.ToString());
    }

    [Fact]
    public void A_section_with_too_many_keys_is_refused()
    {
        var text = "[Service]\nExecStart = [\"/bin/true\"]\n[Service.Environment]\n" + Keys(Limits.MaxKeysPerTable + 1, "\n") + "\n";
        var d = Parse.SingleError(text);
        Assert.Equal($"svc.toml:{4 + Limits.MaxKeysPerTable}:{$"V{Limits.MaxKeysPerTable} ".Length + 1}: svc: more than {Limits.MaxKeysPerTable} keys in one table", d.ToString());
    }

    [Fact]
    public void A_file_with_too_many_keys_in_all_is_refused()
    {
        var perTable = Limits.MaxKeysPerTable - 10;
        var text = new StringBuilder("[Service]\nExecStart = [\"/bin/true\"]\n");
        for (int t = 0; t < 3; t++)
            text.Append($"[T{t}]\n").Append(Keys(perTable, "\n")).Append('\n');
        Assert.Contains($"more than {Limits.MaxKeysPerFile} keys and table headers in one file", Parse.SingleError(text.ToString()).Message);
    }

    [Fact]
    public void A_file_of_nothing_but_table_headers_is_refused()
    {
        var text = Parse.MinimalService + string.Concat(Enumerable.Range(0, Limits.MaxKeysPerFile).Select(i => $"[T{i}]\n"));
        Assert.Contains($"more than {Limits.MaxKeysPerFile} keys and table headers in one file", Parse.SingleError(text).Message);
    }

    [Fact]
    public void Equals_signs_in_strings_and_comments_are_not_keys()
    {
        var noise = string.Concat(Enumerable.Repeat("=", Limits.MaxKeysPerFile + 1));
        var text = $"# {noise}\n[Service]\nExecStart = [\"/bin/echo\", \"{noise}\", '{noise}', \"\"\"\n{noise}\"\"\"]\n";
        Assert.Equal(["/bin/echo", noise, noise, noise], Parse.Valid(text).Service.ExecStart!.Argv);
    }

    /// <summary>
    /// Two different keys with the same string hash in this process: Tomlyn's key check treated
    /// them as one key ("already defined"), so a valid file failed at random, per process.
    /// </summary>
    [Fact]
    public void Keys_whose_hashes_collide_are_still_two_keys()
    {
        var seen = new Dictionary<int, string>();
        string a, b;
        for (int i = 0; ; i++)
        {
            var key = "K" + i;
            if (seen.TryGetValue(key.GetHashCode(StringComparison.Ordinal), out var other)) { (a, b) = (other, key); break; }
            seen[key.GetHashCode(StringComparison.Ordinal)] = key;
        }
        var unit = Parse.Valid(Parse.MinimalService + $"Environment = {{ {a} = \"1\", {b} = \"2\" }}\n");
        Assert.Equal([new(a, "1"), new(b, "2")], unit.Service.Environment);
        var dotted = Parse.Valid(Parse.MinimalService + $"[Service.Environment]\n{a} = \"1\"\n{b} = \"2\"\n");
        Assert.Equal([new(a, "1"), new(b, "2")], dotted.Service.Environment);
    }

    [Theory]
    [InlineData("[Service]\nExecStart = [\"/bin/true\"]\n[Service]\nRestart = \"always\"\n",
        "svc.toml:3:1: svc: not valid TOML: table [Service] is defined twice (first at 1:1)")]
    [InlineData("[Service]\nExecStart = [\"/bin/true\"]\nEnvironment = { A = \"1\", A = \"2\" }\n",
        "svc.toml:3:26: svc: not valid TOML: key 'A' is already defined at 3:17")]
    [InlineData("[Service]\nExecStart = [\"/bin/true\"]\nEnvironment = { A = \"1\" }\nEnvironment.B = \"2\"\n",
        "svc.toml:4:1: svc: not valid TOML: key 'Environment' in [Service] is already defined at 3:1")]
    [InlineData("[Service]\nExecStart = [\"/bin/true\"]\nEnvironment.A = \"1\"\n[Service.Environment]\nB = \"2\"\n",
        "svc.toml:4:1: svc: not valid TOML: table [Service.Environment] is already defined by the dotted key at 3:1")]
    [InlineData("[Service]\nExecStart = [\"/bin/true\"]\nRestart = \"no\"\nRestart.x = 1\n",
        "svc.toml:4:1: svc: not valid TOML: key 'Restart' in [Service] is already defined at 3:1")]
    [InlineData("[Service.Environment]\nA = \"1\"\n[Service]\nExecStart = [\"/bin/true\"]\nEnvironment = { B = \"2\" }\n",
        "svc.toml:5:1: svc: not valid TOML: key 'Environment' in [Service] is already defined at 1:1")]
    public void A_key_or_table_defined_twice_is_refused_with_both_places(string text, string expected) =>
        Assert.Equal(expected, Parse.SingleError(text).ToString());

    [Fact]
    public void What_TOML_allows_still_loads()
    {
        // A header after its sub-table, dotted keys extending their own table, a sub-table of a dotted-key table.
        var unit = Parse.Valid("[Service.Environment]\nA = \"1\"\n[Service]\nExecStart = [\"/bin/true\"]\n" +
            "[Resources]\nIOReadBandwidthMax.\"/dev/sda\" = \"1M\"\nIOReadBandwidthMax.\"/dev/sdb\" = \"2M\"\n");
        Assert.Equal([new("A", "1")], unit.Service.Environment);
        Assert.Equal(2, unit.Resources.IOReadBandwidthMax.Count);
    }

    [Fact]
    public void A_NUL_written_as_an_escape_is_refused_where_it_stands()
    {
        var d = Parse.SingleError("[Service]\nExecStart = [\"/bin/echo\", \"a\\u0000b\"]\n");
        Assert.Equal("svc.toml:2:27: svc: a string contains a NUL character (\\u0000); no argument, path or name can hold one", d.ToString());
        Assert.Contains("NUL", Parse.SingleError(Parse.MinimalService + "[Sandbox]\nReadOnlyPaths = [\"/a\\u0000b\"]\n").Message);
        Assert.Contains("NUL", Parse.SingleError(Parse.MinimalService + "Environment = { \"A\\u0000\" = \"1\" }\n").Message);
    }

    [Fact]
    public void A_dotted_key_with_absurdly_many_parts_is_refused()
    {
        var key = string.Join('.', Enumerable.Repeat("a", 100_000));
        Assert.Contains($"has more than {Limits.MaxNestingDepth} dotted parts", Parse.SingleError(Parse.MinimalService + key + " = 1\n").Message);
    }
}
