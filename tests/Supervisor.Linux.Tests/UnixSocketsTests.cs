using System.Net.Sockets;
using Microsoft.Win32.SafeHandles;
using Supervisor.Linux.Files;
using Supervisor.Linux.Native;

namespace Supervisor.Linux.Tests;

/// <summary>Descriptors and credentials through the one sendmsg/recvmsg of the Linux layer, on socket pairs.</summary>
public sealed class UnixSocketsTests : IDisposable
{
    private readonly Socket _a;
    private readonly Socket _b;
    private readonly List<string> _files = [];

    public UnixSocketsTests()
    {
        var (read, writeFd) = UnixSockets.OutputPair();
        _a = new Socket(new SafeSocketHandle(writeFd, ownsHandle: true));
        _b = read;
    }

    private SafeFileHandle NewFile()
    {
        var path = Path.GetTempFileName();
        _files.Add(path);
        return File.OpenHandle(path);
    }

    [Fact]
    public void Descriptors_arrive_as_the_same_open_files_in_order()
    {
        using SafeFileHandle one = NewFile(), two = NewFile();
        Assert.Equal(3, UnixSockets.TrySend(_a.SafeHandle, "abc"u8, [one, two], out _));

        var fds = new List<int>();
        var buffer = new byte[16];
        int n = UnixSockets.TryReceive(_b.SafeHandle, buffer, maxFds: 4, fds, out bool truncated, out _);
        using var gotOne = new SafeFd(fds[0]);
        using var gotTwo = new SafeFd(fds[1]);

        Assert.Equal(("abc", false, 2), (System.Text.Encoding.ASCII.GetString(buffer, 0, n), truncated, fds.Count));
        Assert.Equal(IdentityOf(one), IdentityOf(gotOne));
        Assert.Equal(IdentityOf(two), IdentityOf(gotTwo));
    }

    [Fact]
    public void More_descriptors_than_the_receiver_has_room_for_are_reported_not_leaked()
    {
        var handles = Enumerable.Range(0, 5).Select(_ => NewFile()).ToList();
        try
        {
            Assert.Equal(1, UnixSockets.TrySend(_a.SafeHandle, "x"u8, [.. handles], out _));
            var fds = new List<int>();
            UnixSockets.TryReceive(_b.SafeHandle, new byte[4], maxFds: 2, fds, out bool truncated, out _);
            foreach (var fd in fds) Libc.Close(fd);
            Assert.True(truncated);
            Assert.True(fds.Count <= 2, $"{fds.Count} descriptors arrived in room for 2");
        }
        finally
        {
            foreach (var h in handles) h.Dispose();
        }
    }

    [Fact]
    public void Nothing_queued_is_EAGAIN_and_a_closed_peer_is_end_of_stream()
    {
        var fds = new List<int>();
        Assert.Equal(-1, UnixSockets.TryReceive(_b.SafeHandle, new byte[4], 1, fds, out _, out int errno));
        Assert.Equal(Errno.EAGAIN, errno);
        _a.Dispose();
        Assert.Equal(0, UnixSockets.TryReceive(_b.SafeHandle, new byte[4], 1, fds, out _, out _));
    }

    [Fact]
    public void The_holder_protocol_carries_one_descriptor_or_none()
    {
        using var file = NewFile();
        UnixSockets.SendWithFd(_a, "GET"u8, (int)file.DangerousGetHandle());
        UnixSockets.SendWithFd(_a, "END"u8, -1);
        var buffer = new byte[3];
        Assert.Equal(3, UnixSockets.ReceiveWithFd(_b, buffer, out int fd));
        using (var got = new SafeFd(fd)) Assert.Equal(IdentityOf(file), IdentityOf(got));
        Assert.Equal(3, UnixSockets.ReceiveWithFd(_b, buffer, out fd));
        Assert.Equal(-1, fd);
    }

    [Fact]
    public void A_datagram_carries_its_senders_credentials()
    {
        var dir = Directory.CreateTempSubdirectory("unixsockets-").FullName;
        try
        {
            var path = Path.Combine(dir, "notify");
            using var receiver = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            receiver.Bind(new UnixDomainSocketEndPoint(path));
            UnixSockets.PassCredentials(receiver);
            using var sender = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            sender.SendTo("READY=1"u8.ToArray(), new UnixDomainSocketEndPoint(path));

            var buffer = new byte[64];
            var fds = new List<int>();
            int n = UnixSockets.ReceiveWithCredentials(receiver, buffer, fds, out var cred, out bool truncated, out _);
            Assert.Equal(("READY=1", false), (System.Text.Encoding.ASCII.GetString(buffer, 0, n), truncated));
            Assert.Equal((Environment.ProcessId, Libc.GetEuid()), (cred.Pid, cred.Uid));
            Assert.Empty(fds);
            Assert.Equal(-1, UnixSockets.ReceiveWithCredentials(receiver, buffer, fds, out _, out _, out _));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The open file behind a descriptor (/proc/self/fd/N leads to it).</summary>
    private static FileIdentity? IdentityOf(System.Runtime.InteropServices.SafeHandle fd) =>
        Statx.Identity($"/proc/self/fd/{fd.DangerousGetHandle()}");

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
        foreach (var f in _files) File.Delete(f);
    }
}
