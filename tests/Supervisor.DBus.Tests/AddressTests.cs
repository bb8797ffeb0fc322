namespace Supervisor.DBus.Tests;

public class AddressTests
{
    [Theory]
    [InlineData("unix:path=/run/supervisor/private", "/run/supervisor/private")]
    [InlineData("unix:path=/tmp/a%20b,guid=0123", "/tmp/a b")]
    [InlineData("tcp:host=x,port=1;unix:path=/second", "/second")]
    [InlineData("unix:abstract=/tmp/dbus-x", "\0/tmp/dbus-x")]
    public void Unix_addresses_are_parsed_and_unescaped(string address, string path) =>
        Assert.Equal(path.Replace("\0", "@", StringComparison.Ordinal), DBusAddress.ParseUnixEndPoint(address).ToString());

    [Theory]
    [InlineData("tcp:host=localhost,port=1")]
    [InlineData("unix:path")]
    [InlineData("unix:path=/x%zz")]
    public void Unusable_addresses_are_refused(string address) => Assert.Throws<FormatException>(() => DBusAddress.ParseUnixEndPoint(address));

    [Fact]
    public void Paths_are_escaped_for_addresses() =>
        Assert.Equal("unix:path=/tmp/a%20b%2cc", DBusAddress.ForUnixPath("/tmp/a b,c"));

    [Fact]
    public async Task Connecting_to_a_missing_socket_fails_without_hanging()
    {
        await Assert.ThrowsAsync<System.Net.Sockets.SocketException>(() => DBusConnection.ConnectAsync("unix:path=/nonexistent/supervisor-test.sock"));
    }
}
