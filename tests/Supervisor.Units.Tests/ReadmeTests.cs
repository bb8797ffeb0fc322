using System.Text.RegularExpressions;
using Supervisor.Units.Keys;

namespace Supervisor.Units.Tests;

/// <summary>The README's key reference and the parser agree, key for key, section for section, and on what a change does.</summary>
public partial class ReadmeTests
{
    [GeneratedRegex(@"^### \[(?<section>\w+)\]\s*$")]
    private static partial Regex SectionHeading();

    [GeneratedRegex(@"^\| `(?<key>\w+)` \|.*\| (?<change>[a-z ]+) \|$")]
    private static partial Regex KeyRow();

    private static HashSet<string> DocumentedKeys() => [.. DocumentedRows().Keys];

    /// <summary>"Section.Key" → its "On change" column.</summary>
    private static Dictionary<string, string> DocumentedRows()
    {
        var readme = File.ReadAllLines(Path.Combine(KeyRoundTripTests.RepoRoot(), "README.md"));
        var start = Array.FindIndex(readme, l => l.Trim() == "### Key reference");
        Assert.True(start >= 0, "README.md has no '### Key reference' section");
        var keys = new Dictionary<string, string>();
        string? section = null;
        foreach (var line in readme.Skip(start + 1))
        {
            if (line.StartsWith("## ", StringComparison.Ordinal)) break;
            var h = SectionHeading().Match(line);
            if (h.Success) { section = h.Groups["section"].Value; continue; }
            var k = KeyRow().Match(line);
            if (k.Success)
            {
                Assert.True(section is not null, $"key row before any section heading: {line}");
                Assert.True(keys.TryAdd($"{section}.{k.Groups["key"].Value}", k.Groups["change"].Value), $"documented twice: {section}.{k.Groups["key"].Value}");
            }
        }
        return keys;
    }

    [Fact]
    public void Every_accepted_key_is_documented() =>
        Assert.Empty(KeyTable.All.Select(k => $"{k.Section}.{k.Name}").Except(DocumentedKeys()));

    [Fact]
    public void Every_documented_key_is_accepted() =>
        Assert.Empty(DocumentedKeys().Except(KeyTable.All.Select(k => $"{k.Section}.{k.Name}")));

    [Fact]
    public void Every_key_documents_what_a_change_to_it_does()
    {
        var documented = DocumentedRows();
        Assert.All(KeyTable.All, k => Assert.Equal(
            k.OnChange switch
            {
                ChangeEffect.ApplyLive => "apply live",
                ChangeEffect.Restart => "restart",
                ChangeEffect.NextUse => "next use",
                ChangeEffect.Reload => "reload",
                _ => $"(no such effect: {(int)k.OnChange})",
            },
            documented.GetValueOrDefault($"{k.Section}.{k.Name}")));
    }
}
