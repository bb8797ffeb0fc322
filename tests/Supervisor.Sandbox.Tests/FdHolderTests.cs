using Supervisor.Linux;
using System.Net.Sockets;
using System.Text;
using Supervisor.Linux.Native;
using Supervisor.Sandbox.Launch;
using Supervisor.Sandbox.Tests.Support;

namespace Supervisor.Sandbox.Tests;

/// <summary>The output fd holder is its own binary (supervisor-holder), started by FdHolderProcess.</summary>
public class FdHolderTests
{
    [Fact]
    public void The_build_puts_the_holder_next_to_the_assembly_and_the_locator_finds_it()
    {
        var expected = Path.Combine(AppContext.BaseDirectory, HelperLocator.HolderFileName);
        Assert.True(File.Exists(expected), $"no {expected}");
        if (Environment.GetEnvironmentVariable(HelperLocator.HolderEnvironmentVariable) is null)
            Assert.Equal(expected, HelperLocator.FindHolder());
    }

    [Fact]
    public void The_exec_helper_no_longer_holds_descriptors()
    {
        var psi = new System.Diagnostics.ProcessStartInfo(Host.HelperPath, ["--hold", "/run/sbx-no-holder"]) { RedirectStandardError = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(2, p.ExitCode);
        Assert.Contains("usage: supervisor-helper", error);
        Assert.False(File.Exists("/run/sbx-no-holder"));
    }

    [Fact]
    public void A_descriptor_put_into_the_holder_comes_back_and_still_reads_what_was_written()
    {
        using var dir = new TempDir();
        var socketPath = dir.Combine("fdholder");
        int pid = FdHolderProcess.Start(socketPath);
        try
        {
            using var socket = Connect(socketPath);
            var (read, write) = Libc.Pipe();
            using (read)
            {
                FdPassing.Send(socket, "PUT web:out", read.Fd);
            }
            // Our copy of the read end is closed: only the holder keeps the pipe readable.
            using (write)
                Assert.Equal(0, Libc.WriteAll(write, Encoding.ASCII.GetBytes("kept\n")));

            FdPassing.Send(socket, "GET", -1);
            var (key, fd) = FdPassing.Receive(socket);
            Assert.Equal("web:out", key);
            Assert.True(fd >= 0, "the holder sent no descriptor with the key");
            using (var back = new SafeFd(fd))
                Assert.Equal("kept\n", Encoding.ASCII.GetString(Libc.ReadToEnd(back)));
            Assert.Equal(("END", -1), FdPassing.Receive(socket));

            FdPassing.Send(socket, "QUIT", -1);
            Assert.Equal(0, ExitInfo.FromWaitStatus(Libc.Reap(pid)).Code);
            pid = 0;
            Assert.False(File.Exists(socketPath), "the holder removes its socket when told to quit");
        }
        finally
        {
            if (pid > 0)
            {
                Libc.Kill(pid, Libc.SIGKILL);
                Libc.Reap(pid);
            }
        }
    }

    [Fact]
    public void A_missing_holder_binary_is_one_clear_error()
    {
        var e = Assert.Throws<IOException>(() => FdHolderProcess.Start("/run/sbx-unused", "/nonexistent/supervisor-holder"));
        Assert.Contains("cannot start the fd holder '/nonexistent/supervisor-holder'", e.Message);
    }

    private static Socket Connect(string path)
    {
        // The holder binds right after it starts; wait for the socket itself (a failure guard, not a timing).
        var deadline = DateTime.UtcNow + Runner.SafetyNet;
        while (true)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
            try
            {
                socket.Connect(new UnixDomainSocketEndPoint(path));
                return socket;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                socket.Dispose();
                Thread.Sleep(10);
            }
        }
    }
}
