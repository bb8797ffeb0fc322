using System.Net.Sockets;
using System.Text;
using Supervisor.Sandbox.Tests.Support;

namespace Supervisor.Sandbox.Tests;

/// <summary>
/// $NOTIFY_SOCKET is reachable from inside every view the compiler builds, for a non-root User:
/// the socket lives where a supervisor started with --runtime-dir under /tmp keeps it, the probe
/// sends READY=1 as sd_notify(3) does, and the test receives it.
/// </summary>
public sealed class NotifySocketViewTests : IDisposable
{
    private readonly TempDir _runtime = new(); // under /tmp, as with `supervisor run --runtime-dir /tmp/…`
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly string _path;

    public NotifySocketViewTests()
    {
        var dir = Directory.CreateDirectory(_runtime.Combine("notify")).FullName;
        _path = Path.Combine(dir, "web");
        _socket.Bind(new UnixDomainSocketEndPoint(_path));
        File.SetUnixFileMode(_path, (UnixFileMode)0b110_110_110);
        _socket.ReceiveTimeout = (int)Runner.SafetyNet.TotalMilliseconds;
    }

    public void Dispose()
    {
        _socket.Dispose();
        _runtime.Dispose();
    }

    public static TheoryData<string> Views() =>
    [
        "PrivateTmp = true",
        "TemporaryFileSystem = [\"/tmp\"]",
        "ProtectSystem = \"strict\"\nPrivateDevices = true",
        "PrivateUsers = true\nPrivateTmp = true",
        "PrivatePIDs = true\nPrivateNetwork = true\nPrivateTmp = true",
        "InaccessiblePaths = [\"/home\"]\nPrivateTmp = true\nNoExecPaths = [\"/tmp\"]",
    ];

    [Theory]
    [MemberData(nameof(Views))]
    public void A_non_root_service_reaches_the_notify_socket_from_inside_the_view(string view)
    {
        Host.RequireRoot();
        var result = Runner.Run(NsProbe.Compile(view, "User = \"nobody\"", ["notify"], _path));
        Assert.True(result.Ok, $"sd_notify from inside failed: {result.Line}");
        Assert.Equal("READY=1", Receive());
    }

    [Fact]
    public void The_socket_is_bound_into_a_RootDirectory_at_the_same_path()
    {
        Host.RequireRoot();
        using var root = new TempDir("/run");
        File.Copy(NsProbe.Path, root.Combine("nsprobe"));
        var result = Runner.Run(NsProbe.Compile($"RootDirectory = \"{root.Path}\"", "User = \"nobody\"", ["notify"], _path, program: "/nsprobe"));
        Assert.True(result.Ok, $"sd_notify from inside the root failed: {result.Line}");
        Assert.Equal("READY=1", Receive());
    }

    [Fact]
    public void Without_the_bind_the_private_tmp_hides_the_socket()
    {
        Host.RequireRoot();
        // The same view with the bind taken out of the plan: what redis saw (sd_notify: -2).
        var plan = NsProbe.Compile("PrivateTmp = true", "User = \"nobody\"", ["notify"], _path);
        var stripped = plan with { Mounts = [.. plan.Mounts.Where(m => m is not BindMount b || b.Source != _path)] };
        Assert.NotEqual(plan.Mounts.Length, stripped.Mounts.Length);
        Assert.Equal("fail 2", Runner.Run(stripped).Line); // ENOENT
    }

    private string Receive()
    {
        var buffer = new byte[256];
        int n = _socket.Receive(buffer);
        return Encoding.ASCII.GetString(buffer, 0, n);
    }
}
