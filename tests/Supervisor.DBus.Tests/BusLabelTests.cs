using CsCheck;

namespace Supervisor.DBus.Tests;

public class BusLabelTests
{
    [Theory]
    // Examples from systemd (reference C.4).
    [InlineData("avahi-daemon.service", "avahi_2ddaemon_2eservice")]
    [InlineData("dev-sda3.swap", "dev_2dsda3_2eswap")]
    [InlineData("proc-sys-fs-binfmt_misc.automount", "proc_2dsys_2dfs_2dbinfmt_5fmisc_2eautomount")]
    [InlineData("getty@tty1.service", "getty_40tty1_2eservice")]
    [InlineData("", "_")]
    [InlineData("1abc", "_31abc")]
    [InlineData("a1", "a1")]
    public void Escapes_like_systemd(string label, string escaped)
    {
        Assert.Equal(escaped, BusLabel.Escape(label));
        Assert.Equal(label, BusLabel.Unescape(escaped));
        Assert.True(ObjectPath.IsValid("/" + escaped));
    }

    [Theory]
    [InlineData("a_zz", "a_zz")] // not hex: kept literally
    [InlineData("a_2", "a_2")] // too short: kept literally
    public void Invalid_escapes_are_taken_literally(string escaped, string label) => Assert.Equal(label, BusLabel.Unescape(escaped));

    [Fact]
    public void Unit_object_path_is_prefix_plus_escaped_name() =>
        Assert.Equal("/io/supervisor/Supervisor1/unit/web_2eservice", BusLabel.ToObjectPath("/io/supervisor/Supervisor1/unit", "web.service").Value);

    [Fact]
    public void Any_string_escapes_to_a_valid_path_element_and_back()
    {
        Gen.String.Where(s => !s.Any(char.IsSurrogate)).Sample(s =>
        {
            string e = BusLabel.Escape(s);
            Assert.True(ObjectPath.IsValid("/" + e), e);
            Assert.Equal(s, BusLabel.Unescape(e));
        }, iter: 2000);
    }
}
