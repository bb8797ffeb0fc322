namespace Supervisor.DBus.Tests;

public class MatchRuleTests
{
    private static Message Signal(string path, string iface, string member, params object[] args) =>
        new()
        {
            Type = MessageType.Signal, Path = new ObjectPath(path), Interface = iface, Member = member,
            Signature = new Signature(string.Concat(args.Select(Variant.InferSignature))), Body = args,
        };

    [Fact]
    public void Parses_and_prints_a_rule_with_quotes_escaped()
    {
        var rule = MatchRule.Parse("type='signal',interface='io.supervisor.Manager1',member='UnitNew',path_namespace='/io',arg0='it'\\''s'");
        Assert.Equal(MessageType.Signal, rule.Type);
        Assert.Equal("it's", rule.Args[0]);
        Assert.Equal(rule.ToString(), MatchRule.Parse(rule.ToString()).ToString());
    }

    [Fact]
    public void Matches_on_every_condition()
    {
        var rule = MatchRule.Parse("type='signal',interface='a.b',member='M',path_namespace='/x',arg1='v'");
        Assert.True(rule.Matches(Signal("/x/y", "a.b", "M", "u", "v")));
        Assert.True(rule.Matches(Signal("/x", "a.b", "M", "u", "v")));
        Assert.False(rule.Matches(Signal("/xy", "a.b", "M", "u", "v")));
        Assert.False(rule.Matches(Signal("/x", "a.c", "M", "u", "v")));
        Assert.False(rule.Matches(Signal("/x", "a.b", "N", "u", "v")));
        Assert.False(rule.Matches(Signal("/x", "a.b", "M", "u", "w")));
        Assert.False(rule.Matches(Signal("/x", "a.b", "M", "u")));
    }

    [Theory]
    [InlineData("type='bogus'")]
    [InlineData("interface='nodot'")]
    [InlineData("path='//'")]
    [InlineData("member='x")]
    [InlineData("foo='bar'")]
    [InlineData("noequals")]
    public void Invalid_rules_are_refused(string rule) => Assert.Throws<FormatException>(() => MatchRule.Parse(rule));

    [Fact]
    public void Overlong_rules_are_refused() =>
        Assert.Throws<FormatException>(() => MatchRule.Parse("member='" + new string('a', ProtocolConstants.MaxMatchRuleLength) + "'"));
}
