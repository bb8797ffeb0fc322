using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Supervisor.Sandbox.Security;
using Supervisor.Units;
using Supervisor.Units.Model;

namespace Supervisor.Import.Tests;

/// <summary>
/// `supervisor security` beside `systemd-analyze security --offline` on every Debian .service
/// installed here: each unit is imported with `supervisor import`, scored by us from the TOML
/// written and by systemd 252 from the original. Every check must get systemd's verdict, except
/// where a key is carried differently for a stated reason (<see cref="Explain"/>); with those
/// lines given systemd's verdict, the two scores are equal to the tenth. The README's table is
/// this test's output (SUPERVISOR_SECURITY_TABLE=FILE writes it).
/// </summary>
public sealed class SecurityScoreTests(ITestOutputHelper log) : IDisposable
{
    private const string SystemDir = "/lib/systemd/system";
    private const string TemplateInstance = "test";
    private readonly Scratch _s = new();

    public void Dispose() => _s.Dispose();

    private sealed record SystemdCheck(string Name, bool? Set, string Description);

    /// <summary>One difference and why it is one: the check, systemd's verdict for it, and the reason.</summary>
    private sealed record Explained(string Check, Assessment Systemd, string Why);

    [Fact]
    public async Task Every_Debian_unit_scores_as_systemd_analyze_scores_its_original_or_each_difference_is_explained()
    {
        var analyze = new[] { "/usr/bin/systemd-analyze", "/bin/systemd-analyze" }.FirstOrDefault(File.Exists);
        if (analyze is null) Assert.Skip("systemd-analyze is not installed (Debian package systemd)");
        var originals = Directory.Exists(SystemDir) ? Directory.GetFiles(SystemDir, "*.service") : [];
        if (originals.Length == 0) Assert.Skip($"no systemd units in {SystemDir}");
        await Cli.Run(["import", .. originals, "--out", _s.Out]);
        var set = LoadWithInstances();
        var rows = new List<string>();
        var failures = new List<string>();
        foreach (var unit in set.Units.Values.Select(u => u.Definition).Where(d => d.Kind == UnitKind.Service).OrderBy(d => d.Name, StringComparer.Ordinal))
        {
            var original = Original(unit.Name);
            var (checks, score) = Systemd(analyze, original);
            var ours = ExposureScore.Assess(unit);
            var explained = new List<Explained>();
            foreach (var line in ours.Lines.Where(l => !l.Check.SupervisorOnly))
            {
                var theirs = checks.Single(c => c.Name == line.Check.Name);
                if (theirs.Set == line.Passes) continue;
                if (Explain(unit, line, theirs) is { } why) explained.Add(why);
                else failures.Add($"{unit.Name}: {line.Check.Name}: systemd says {theirs.Set?.ToString() ?? "n/a"} ({theirs.Description}), we say {line.Passes?.ToString() ?? "n/a"} ({line.Assessment.Description})");
            }
            Assert.Equal(checks.Select(c => c.Name).Order(StringComparer.Ordinal), ours.Lines.Where(l => !l.Check.SupervisorOnly).Select(l => l.Check.Name).Order(StringComparer.Ordinal));
            // With systemd's verdict on the explained lines, our arithmetic must land on its score exactly.
            var adjusted = ExposureScore.Assess(unit.Name, SecurityFacts.FromDeclaration(unit),
                [.. ExposureTable.All.Select(c => explained.FirstOrDefault(e => e.Check == c.Name) is { } e ? c with { Assess = _ => e.Systemd } : c)]);
            if (adjusted.ScoreTenths != score)
                failures.Add($"{unit.Name}: systemd {Tenths(score)}, ours {ours.Score}, {Tenths(adjusted.ScoreTenths)} with the explained lines as systemd has them");
            if (explained.Count == 0 && Math.Abs(ours.ScoreTenths - score) > 1)
                failures.Add($"{unit.Name}: systemd {Tenths(score)}, ours {ours.Score}, nothing to explain it");
            rows.Add($"| {unit.Name} | {Tenths(score)} | {ours.Score} | {Difference(ours.ScoreTenths - score, explained)} |");
        }
        Report(rows, originals.Length);
        Assert.True(rows.Count >= Math.Min(50, originals.Length / 2), $"only {rows.Count} of {originals.Length} units were compared");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <summary>
    /// The differences that are not errors, each a key Supervisor carries differently from systemd:
    /// a check with no such reason fails the test.
    /// </summary>
    private static Explained? Explain(UnitDefinition unit, ExposureLine ours, SystemdCheck theirs)
    {
        // systemd does not judge these for a unit with DefaultDependencies=no ("runs in special boot
        // phase"). Supervisor has no boot phase and no DefaultDependencies key: every unit it runs is
        // an ordinary service, so they count.
        string[] bootPhase = ["PrivateTmp=", "ProtectHome=", "ProtectSystem=", "RootDirectory=/RootImage="];
        if (theirs.Set is null && theirs.Description.Contains("special boot phase", StringComparison.Ordinal) && bootPhase.Contains(ours.Check.Name))
            return new(ours.Check.Name, Assessment.NotApplicable(theirs.Description), "DefaultDependencies=no: not judged by systemd (boot phase); judged here");
        // systemd's ProtectClock adds "DeviceAllow=char-rtc r" to the unit's device list; Supervisor's
        // ProtectClock (seccomp and capabilities) leaves the list as declared, so its ACL stays minimal.
        if (ours.Check.Name == "DeviceAllow=" && unit.Sandbox.ProtectClock && unit.Resources.DeviceAllow.Count == 0
            && theirs.Description.Contains("some special devices", StringComparison.Ordinal) && ours.Assessment.Badness == 0)
            return new(ours.Check.Name, new Assessment(5, theirs.Description), "ProtectClock: systemd adds DeviceAllow=char-rtc r, Supervisor does not");
        return null;
    }

    private static string Difference(int tenths, List<Explained> explained)
    {
        if (tenths == 0 && explained.Count == 0) return "0.0";
        var sign = tenths > 0 ? "+" : tenths < 0 ? "−" : "±";
        var why = string.Join("; ", explained.Select(e => e.Why).Distinct());
        return $"{sign}{Tenths(Math.Abs(tenths))}" + (why.Length > 0 ? $": {why}" : "");
    }

    private static string Tenths(int t) => $"{t / 10}.{t % 10}";

    private void Report(List<string> rows, int originals)
    {
        var table = new StringBuilder();
        table.AppendLine(CultureInfo.InvariantCulture, $"{rows.Count} units compared ({originals} .service files in {SystemDir}; aliases, masked units and units import cannot write are not)");
        table.AppendLine();
        table.AppendLine("| unit | systemd-analyze | supervisor security | difference |");
        table.AppendLine("|---|---|---|---|");
        foreach (var row in rows) table.AppendLine(row);
        log.WriteLine(table.ToString());
        if (Environment.GetEnvironmentVariable("SUPERVISOR_SECURITY_TABLE") is { Length: > 0 } file) File.WriteAllText(file, table.ToString());
    }

    /// <summary>The TOML written, with an instance "NAME@test" beside each template (systemd scores a template only as an instance).</summary>
    private UnitSet LoadWithInstances()
    {
        foreach (var template in Directory.GetFiles(_s.Out, "*@.toml"))
            File.WriteAllText(template.Replace("@.toml", $"@{TemplateInstance}.toml", StringComparison.Ordinal), "");
        return UnitLoader.LoadDirectory(_s.Out, new LoadOptions { RequireRootOwnership = false });
    }

    /// <summary>The systemd file a unit was imported from; a template's instance is a copy under the instance's name.</summary>
    private string Original(string name)
    {
        var at = name.IndexOf('@', StringComparison.Ordinal);
        if (at < 0) return Path.Combine(SystemDir, name + ".service");
        var copy = Path.Combine(_s.Dir, "systemd", name + ".service");
        Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
        File.Copy(Path.Combine(SystemDir, name[..(at + 1)] + ".service"), copy, overwrite: true);
        return copy;
    }

    private static (List<SystemdCheck> Checks, int ScoreTenths) Systemd(string analyze, string path)
    {
        var json = Run(analyze, "security", "--offline=true", "--json=short", path);
        var checks = JsonDocument.Parse(json).RootElement.EnumerateArray().Select(e => new SystemdCheck(e.GetProperty("name").GetString()!,
            e.GetProperty("set").ValueKind == JsonValueKind.Null ? null : e.GetProperty("set").GetBoolean(), e.GetProperty("description").GetString() ?? "")).ToList();
        var text = Run(analyze, "security", "--offline=true", "--no-pager", path);
        var m = Regex.Match(text, @"Overall exposure level for \S+: (\d+)\.(\d)");
        Assert.True(m.Success, text);
        return (checks, int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) * 10 + int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    private static string Run(string program, params string[] args) => Programs.Run(program, args);
}
