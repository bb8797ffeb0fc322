using Supervisor.Units.Keys;
using Supervisor.Units.Model;

namespace Supervisor.Units.Tests;

/// <summary>DevicePolicy, DeviceAllow, IPAddressAllow/Deny, SocketBindAllow/Deny: systemd's syntax in, typed values out, and one located error for bad input.</summary>
public class DeviceNetworkKeyTests
{
    private static ResourcesSection Resources(string body)
    {
        var (unit, diagnostics) = Parse.Service(Parse.MinimalService + "[Resources]\n" + body);
        Assert.Empty(diagnostics);
        return unit!.Resources;
    }

    [Fact]
    public void DeviceAllow_takes_paths_and_classes_with_access_letters_defaulting_to_rwm()
    {
        var r = Resources("DevicePolicy = \"closed\"\nDeviceAllow = [\"/dev/sda1 rw\", \"char-pts\", \"block-loop mr\", \"/run/systemd/inaccessible/chr r\"]\n");
        Assert.Equal(DevicePolicy.Closed, r.DevicePolicy);
        Assert.Equal(["/dev/sda1 rw", "char-pts rwm", "block-loop rm", "/run/systemd/inaccessible/chr r"], r.DeviceAllow.Select(d => d.ToString()));
    }

    [Fact]
    public void Address_lists_take_systemds_symbolic_names_prefixes_and_a_space_separated_string()
    {
        var r = Resources("IPAddressDeny = \"any\"\nIPAddressAllow = [\"localhost link-local\", \"10.1.2.3/16\", \"2001:db8::1\"]\n");
        Assert.Equal(["0.0.0.0/0", "::/0"], r.IPAddressDeny.Select(p => p.ToString()));
        Assert.Equal(["127.0.0.0/8", "::1/128", "169.254.0.0/16", "fe80::/64", "10.1.0.0/16", "2001:db8::1/128"], r.IPAddressAllow.Select(p => p.ToString()));
        Assert.Equal(["224.0.0.0/4", "ff00::/8"], Resources("IPAddressDeny = [\"multicast\"]\n").IPAddressDeny.Select(p => p.ToString()));
    }

    [Fact]
    public void Bind_rules_take_family_protocol_and_ports_in_systemds_order()
    {
        var r = Resources("SocketBindDeny = \"any\"\nSocketBindAllow = [\"tcp:8080\", \"ipv6:udp:5000-5010\", \"ipv4\", \"udp:any\"]\n");
        Assert.Equal(["any"], r.SocketBindDeny.Select(b => b.ToString()));
        Assert.Equal(["tcp:8080", "ipv6:udp:5000-5010", "ipv4:any", "udp:any"], r.SocketBindAllow.Select(b => b.ToString()));
        Assert.Equal(new SocketBindItem(BindFamily.IPv6, BindProtocol.Udp, 5000, 11), r.SocketBindAllow[1]);
    }

    [Fact]
    public void Show_writes_the_values_back_in_a_form_the_parser_reads_again()
    {
        var r = Resources("DeviceAllow = [\"/dev/null wr\"]\nIPAddressDeny = \"any\"\nSocketBindAllow = [\"tcp:80\"]\n");
        var unit = Parse.Service(Parse.MinimalService + "[Resources]\nDeviceAllow = [\"/dev/null wr\"]\n").Unit!;
        Assert.Equal(new List<object> { "/dev/null rw" }, KeyTable.Find("Resources", "DeviceAllow")!.Get(unit));
        Assert.Equal("0.0.0.0/0", r.IPAddressDeny[0].ToString());
        var again = Resources("IPAddressDeny = [\"0.0.0.0/0\", \"::/0\"]\n");
        Assert.Equal(r.IPAddressDeny, again.IPAddressDeny);
    }

    [Theory]
    [InlineData("DevicePolicy = \"closd\"", "svc.toml:4:16: svc: [Resources] DevicePolicy: expected one of \"auto\", \"closed\", \"strict\", got \"closd\"; did you mean 'closed'?")]
    [InlineData("DeviceAllow = [\"sda rw\"]", "svc.toml:4:15: svc: [Resources] DeviceAllow: expected a device path under /dev or a class \"char-NAME\" / \"block-NAME\", got \"sda\"; did you mean '/dev/sda'?")]
    [InlineData("DeviceAllow = [\"chr-pts\"]", "svc.toml:4:15: svc: [Resources] DeviceAllow: expected a device path under /dev or a class \"char-NAME\" / \"block-NAME\", got \"chr-pts\"; did you mean 'char-pts'?")]
    [InlineData("DeviceAllow = [\"/dev/null rx\"]", "svc.toml:4:15: svc: [Resources] DeviceAllow: '/dev/null': expected access letters from \"rwm\", got \"rx\"")]
    [InlineData("DeviceAllow = [\"/dev/../etc/passwd\"]", "svc.toml:4:15: svc: [Resources] DeviceAllow: device \"/dev/../etc/passwd\" contains \"..\" or a NUL character; write the path it means")]
    [InlineData("DeviceAllow = [\"\"]", "svc.toml:4:15: svc: [Resources] DeviceAllow: empty entry; to clear the list, assign an empty array")]
    [InlineData("IPAddressDeny = [\"localhots\"]", "svc.toml:4:17: svc: [Resources] IPAddressDeny: expected an IP address, a prefix like \"10.0.0.0/8\" or one of any, localhost, link-local, multicast, got \"localhots\"; did you mean 'localhost'?")]
    [InlineData("IPAddressAllow = [\"10.0.0.0/33\"]", "svc.toml:4:18: svc: [Resources] IPAddressAllow: \"10.0.0.0/33\": expected a prefix length from 0 to 32 after \"/\"")]
    [InlineData("IPAddressAllow = [\"10.1\"]", "svc.toml:4:18: svc: [Resources] IPAddressAllow: expected an IP address, a prefix like \"10.0.0.0/8\" or one of any, localhost, link-local, multicast, got \"10.1\"")]
    [InlineData("IPAddressAllow = 10", "svc.toml:4:18: svc: [Resources] IPAddressAllow: expected an array of strings or one string, got 10")]
    [InlineData("SocketBindDeny = [\"tcp:0\"]", "svc.toml:4:18: svc: [Resources] SocketBindDeny: expected \"[ipv4|ipv6:][tcp|udp:]PORTS\" with PORTS a port 1-65535, a range \"N-M\" or \"any\", got \"tcp:0\"")]
    [InlineData("SocketBindDeny = [\"tpc:80\"]", "svc.toml:4:18: svc: [Resources] SocketBindDeny: expected \"[ipv4|ipv6:][tcp|udp:]PORTS\" with PORTS a port 1-65535, a range \"N-M\" or \"any\", got \"tpc:80\"; did you mean 'tcp'?")]
    [InlineData("SocketBindDeny = [\"tcp:90-80\"]", "svc.toml:4:18: svc: [Resources] SocketBindDeny: \"tcp:90-80\": the port range 90-80 runs backwards")]
    [InlineData("SocketBindAllow = [\"udp:tcp:80\"]", "svc.toml:4:19: svc: [Resources] SocketBindAllow: expected \"[ipv4|ipv6:][tcp|udp:]PORTS\" with PORTS a port 1-65535, a range \"N-M\" or \"any\", got \"udp:tcp:80\"; did you mean 'tcp'?")]
    public void Bad_values_get_one_located_error_with_the_cause(string line, string expected) =>
        Assert.Equal(expected, Parse.SingleError(Parse.MinimalService + "[Resources]\n" + line + "\n").ToString());

    [Fact]
    public void Every_key_of_the_group_is_a_Resources_key_applied_live_and_allowed_in_slices()
    {
        foreach (var name in (string[])["DevicePolicy", "DeviceAllow", "IPAddressAllow", "IPAddressDeny", "SocketBindAllow", "SocketBindDeny"])
        {
            var key = KeyTable.Find("Resources", name);
            Assert.NotNull(key);
            Assert.Equal((ChangeEffect.ApplyLive, true), (key.OnChange, key.ForSlices));
        }
    }
}
