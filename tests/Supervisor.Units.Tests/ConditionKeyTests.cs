using Supervisor.Units.Keys;
using Supervisor.Units.Model;

namespace Supervisor.Units.Tests;

/// <summary>Condition*/Assert* parsing and systemd's combination rule; OnFailure/OnSuccess, ExecCondition, Type=idle/dbus and BusName.</summary>
public class ConditionKeyTests
{
    private static UnitCondition C(string text) => UnitCondition.Parse("PathExists", false, text);

    /// <summary>Each case: entries ("|" and "!" as written) with whether the raw check holds, and the expected result (systemd's condition_test_list).</summary>
    [Theory]
    [InlineData("", true)]
    [InlineData("/a:1", true)]
    [InlineData("/a:0", false)]
    [InlineData("!/a:0", true)]
    [InlineData("!/a:1", false)]
    [InlineData("/a:1 /b:1", true)]
    [InlineData("/a:1 /b:0", false)]
    [InlineData("|/a:0 |/b:1", true)]
    [InlineData("|/a:0 |/b:0", false)]
    [InlineData("|!/a:1 |/b:0", false)]
    [InlineData("|!/a:0 |/b:0", true)]
    [InlineData("/a:1 |/b:0 |/c:1", true)]
    [InlineData("/a:0 |/b:1", false)]
    [InlineData("!/a:1 |/b:1", false)]
    [InlineData("/a:1 |/b:0", false)]
    public void The_combination_rule_is_systemds(string entries, bool expected)
    {
        var results = entries.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(e =>
        {
            var c = C(e[..^2]);
            bool raw = e[^1] == '1';
            return (c, raw != c.Negate);
        }).ToList();
        Assert.Equal(expected, ConditionRule.Combine(false, results).Met);
    }

    [Fact]
    public void What_was_not_met_is_named_as_systemctl_status_names_it()
    {
        var outcome = ConditionRule.Combine(false, [(C("|!/a"), false), (C("|/b"), false), (C("/c"), true)]);
        Assert.False(outcome.Met);
        Assert.Equal("ConditionPathExists=|!/a was not met; ConditionPathExists=|/b was not met", outcome.Describe());
        outcome = ConditionRule.Combine(false, [(C("|/a"), true), (C("!/c"), false)]);
        Assert.Equal("ConditionPathExists=!/c was not met", outcome.Describe());
    }

    [Fact]
    public void Prefixes_are_read_pipe_first_then_bang()
    {
        Assert.Equal(new UnitCondition("PathExists", false, true, true, "/x"), C("|!/x"));
        Assert.Equal(new UnitCondition("PathExists", false, false, true, "/x"), C("! /x"));
    }

    [Fact]
    public void Conditions_and_asserts_are_parsed_in_unit_with_their_kind()
    {
        var u = Parse.Valid("[Unit]\nConditionPathExists = [\"!/etc/ssh/sshd_not_to_be_run\", \"|/a\"]\nAssertKernelVersion = [\">=4.0\"]\nConditionVirtualization = [\"!container\"]\n" +
            "OnFailure = [\"rescue.service\"]\n" + Parse.MinimalService[Parse.MinimalService.IndexOf("[Service]", StringComparison.Ordinal)..]);
        Assert.Equal(["AssertKernelVersion=>=4.0", "ConditionPathExists=!/etc/ssh/sshd_not_to_be_run", "ConditionPathExists=|/a", "ConditionVirtualization=!container"],
            u.Unit.Conditions.Select(c => c.ToString()).Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(["rescue"], u.Unit.OnFailure);
    }

    [Theory]
    [InlineData("ConditionPathExists = [\"relative\"]", "expected an absolute path")]
    [InlineData("ConditionSecurity = [\"landlock\"]", "unknown security technology \"landlock\"")]
    [InlineData("ConditionVirtualization = [\"vmwarez\"]", "unknown virtualization \"vmwarez\"")]
    [InlineData("AssertCapability = [\"CAP_FLY\"]", "unknown capability \"CAP_FLY\"")]
    [InlineData("ConditionArchitecture = [\"x86_64\"]", "unknown architecture \"x86_64\"")]
    [InlineData("ConditionKernelVersion = [\">=\"]", "has an operator but no version")]
    [InlineData("ConditionMemory = [\"lots\"]", "\"lots\" is not a size with an optional operator")]
    [InlineData("ConditionCPUs = [\">=two\"]", "is not a CPU count")]
    [InlineData("ConditionOSRelease = [\"ID\"]", "\"ID\" is not KEY=VALUE")]
    [InlineData("ConditionMemoryPressure = [\"20\"]", "is not a percentage with an optional window")]
    [InlineData("ConditionIOPressure = [\"20%/2min\"]", "is not a percentage with an optional window")]
    [InlineData("ConditionCPUPressure = [\"web.slice:20%\"]", "a slice before the threshold")]
    [InlineData("ConditionNeedsUpdate = [\"/usr\"]", "expected /etc or /var")]
    [InlineData("AssertCredential = [\"a/b\"]", "is not a credential name")]
    [InlineData("RequiresMountsFor = [\"srv\"]", "absolute")]
    [InlineData("ConditionACPower = [\"maybe\"]", "expected a boolean")]
    [InlineData("ConditionPathExists = \"/x\"", "expected an array of strings")]
    public void A_bad_condition_is_refused_where_it_is_written(string line, string message)
    {
        var error = Parse.SingleError("[Unit]\n" + line + "\n" + Parse.MinimalService[Parse.MinimalService.IndexOf("[Service]", StringComparison.Ordinal)..]);
        Assert.Contains(message, error.ToString());
        Assert.StartsWith("svc.toml:2:", error.ToString());
    }

    [Fact]
    public void Type_dbus_needs_BusName_and_idle_is_accepted()
    {
        Assert.Contains("needs BusName", Parse.SingleError(Parse.MinimalService + "Type = \"dbus\"\n").ToString());
        Assert.Equal("org.example.X", Parse.Valid(Parse.MinimalService + "Type = \"dbus\"\nBusName = \"org.example.X\"\n").Service.BusName);
        Assert.Equal(ServiceType.Idle, Parse.Valid(Parse.MinimalService + "Type = \"idle\"\n").Service.Type);
        Assert.Contains("not a well-known D-Bus name", Parse.SingleError(Parse.MinimalService + "Type = \"dbus\"\nBusName = \"nodots\"\n").ToString());
    }

    [Theory]
    [InlineData("6.18.0", ">=6.0", true)]
    [InlineData("6.18.0", "<6.2", false)]
    [InlineData("6.18.0-1-amd64", ">6.18", true)]
    [InlineData("6.1.0", "=6.1.0", true)]
    [InlineData("6.1.0", "!=6.1.0", false)]
    [InlineData("6.10.0", ">6.9", true)]
    [InlineData("6.18.0", "6.*", true)]
    [InlineData("6.18.0", "5.*", false)]
    public void KernelVersion_compares_versions_as_systemd(string release, string expression, bool holds) =>
        Assert.Equal(holds, KernelVersionExpression.Test(release, expression));
}
